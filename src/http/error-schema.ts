import { Type } from '@sinclair/typebox'

/** The error body every route answers with (clients rely on `code`), for OpenAPI response entries. */
export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ pattern: '^QUIVER_' }),
  error: Type.String(),
  message: Type.String()
})

/** `{ 401: ErrorSchema, 403: ErrorSchema, … }`: the error answers a route documents. */
export function errorResponses (...statuses: number[]): Record<number, typeof ErrorSchema> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorSchema]))
}
