import { Type, type Static } from '@sinclair/typebox'
import { PartitionBySchema, TimePartitionSchema } from './partition-schema.ts'

export const TOPIC_NAME_PATTERN = '^[a-z][a-z0-9_]{0,62}$'

export const FieldSpecSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 255 }),
  type: Type.String({ minLength: 1, description: 'pyarrow type name: int64, string, timestamp[us, tz=UTC], list<item: int32>, struct<a: int32>…' }),
  nullable: Type.Boolean({ default: true })
}, { additionalProperties: false })

export const TopicSchemaSchema = Type.Object({
  // No maxItems: the limit is MAX_SCHEMA_FIELDS, counted at every nesting level by
  // parseTopicSchema (400 QUIVER_INVALID_SCHEMA); a fixed bound here ignored the variable.
  fields: Type.Array(FieldSpecSchema, { minItems: 1, description: 'at most MAX_SCHEMA_FIELDS (default 10000) fields, counted at every nesting level' })
}, { additionalProperties: false })

export const EvolutionSchema = Type.Union([Type.Literal('none'), Type.Literal('additive')], {
  description: 'additive: a writer\'s stream that only adds nullable fields evolves the schema; none: it gets 422. Absent at create: AUTO_EVOLVE_TOPICS decides'
})

export const TopicRecordSchema = Type.Object({
  name: Type.String({ pattern: TOPIC_NAME_PATTERN }),
  schema: TopicSchemaSchema,
  createdAt: Type.String({ format: 'date-time' }),
  // Partitioning: absent on topics created before partitions existed, read as the defaults.
  partitionBy: Type.Optional(PartitionBySchema),
  timePartition: Type.Optional(TimePartitionSchema),
  // Schema evolution: absent on the record a topic was created with, read as 1.
  schemaVersion: Type.Optional(Type.Integer({ minimum: 1, description: 'starts at 1, +1 per schema change (PATCH or a stream that added nullable fields)' })),
  evolution: Type.Optional(EvolutionSchema),
  evolvedAt: Type.Optional(Type.String({ format: 'date-time', description: 'when this schema version was written' }))
})

export type FieldSpec = Static<typeof FieldSpecSchema>
export type TopicSchema = Static<typeof TopicSchemaSchema>
export type Evolution = Static<typeof EvolutionSchema>
export type TopicRecord = Static<typeof TopicRecordSchema>
