import { Type, type Static } from '@sinclair/typebox'

export const TOPIC_NAME_PATTERN = '^[a-z][a-z0-9_]{0,62}$'

export const FieldSpecSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 255 }),
  type: Type.String({ minLength: 1, description: 'pyarrow type name: int64, string, timestamp[us, tz=UTC], list<item: int32>, struct<a: int32>…' }),
  nullable: Type.Boolean({ default: true })
}, { additionalProperties: false })

export const TopicSchemaSchema = Type.Object({
  fields: Type.Array(FieldSpecSchema, { minItems: 1, maxItems: 10000 })
}, { additionalProperties: false })

export const TopicRecordSchema = Type.Object({
  name: Type.String({ pattern: TOPIC_NAME_PATTERN }),
  schema: TopicSchemaSchema,
  createdAt: Type.String({ format: 'date-time' })
})

export type FieldSpec = Static<typeof FieldSpecSchema>
export type TopicSchema = Static<typeof TopicSchemaSchema>
export type TopicRecord = Static<typeof TopicRecordSchema>
