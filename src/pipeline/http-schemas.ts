import { Type } from '@sinclair/typebox'
import { TOPIC_NAME_PATTERN, TopicRecordSchema } from '../schema/topic-schema.ts'

export { ErrorSchema } from '../auth/schemas.ts'

export const TopicParamsSchema = Type.Object({ topic: Type.String({ pattern: TOPIC_NAME_PATTERN, description: 'topic name' }) })

export const TopicStatsSchema = Type.Object({
  rows: Type.Integer({ description: 'rows in committed Parquet objects' }),
  bytes: Type.Integer({ description: 'bytes of committed Parquet objects' }),
  files: Type.Integer(),
  lastFlushAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
})

export const TopicDetailSchema = Type.Composite([TopicRecordSchema, Type.Object({ stats: TopicStatsSchema })])

export const TopicListSchema = Type.Object({ topics: Type.Array(TopicRecordSchema) })

export const FileListSchema = Type.Object({
  files: Type.Array(Type.Object({
    key: Type.String({ description: 'object key relative to S3_PREFIX / DATA_DIR' }),
    bytes: Type.Integer(),
    rows: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' })
  }))
})
