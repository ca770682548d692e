import { Type } from '@sinclair/typebox'

export const RoleSchema = Type.Union([Type.Literal('read'), Type.Literal('write'), Type.Literal('admin')])
