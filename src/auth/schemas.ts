import { Type } from '@sinclair/typebox'

/** The error body every route answers with (CONTRACT §4), for OpenAPI response entries. */
export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ pattern: '^QUIVER_' }),
  error: Type.String(),
  message: Type.String()
})

export const RoleSchema = Type.Union([Type.Literal('read'), Type.Literal('write'), Type.Literal('admin')])
