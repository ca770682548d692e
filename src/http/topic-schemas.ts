import { Type } from '@sinclair/typebox'
import { EvolutionSchema, TopicRecordSchema } from '../schema/topic-schema.ts'
import { PartitionBySchema, TimePartitionSchema } from '../lake/partition-spec.ts'

export const TopicStatsSchema = Type.Object({
  rows: Type.Integer({ description: 'rows in committed Parquet objects' }),
  bytes: Type.Integer({ description: 'bytes of committed Parquet objects' }),
  files: Type.Integer(),
  lastFlushAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
})

/** What GET and PATCH /v1/topics/{topic} always show: the version, the evolution setting in force, the partition layout. */
const Shown = {
  schemaVersion: Type.Integer({ minimum: 1, description: 'starts at 1, +1 per schema change (PATCH or a stream that added nullable fields)' }),
  evolution: EvolutionSchema,
  partitionBy: PartitionBySchema,
  timePartition: TimePartitionSchema
}

export const TopicVersionSchema = Type.Composite([Type.Omit(TopicRecordSchema, Object.keys(Shown)), Type.Object(Shown)])

export const TopicDetailSchema = Type.Composite([TopicVersionSchema, Type.Object({ stats: TopicStatsSchema })])

export const TopicListSchema = Type.Object({ topics: Type.Array(TopicRecordSchema) })

export const FileListSchema = Type.Object({
  files: Type.Array(Type.Object({
    key: Type.String({ description: 'object key relative to S3_PREFIX / DATA_DIR' }),
    bytes: Type.Integer(),
    rows: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    corrupt: Type.Optional(Type.Literal(true, { description: 'the object cannot be read (0 bytes, not Parquet, cut short): skipped by reads, named in the log, counted in quiver_corrupt_objects_total' }))
  }))
})
