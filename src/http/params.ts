import { Type, type Static } from '@sinclair/typebox'
import { TOPIC_NAME_PATTERN } from '../schema/topic-schema.ts'

/**
 * `/v1/topics/:topic/…` for every route under it. A name that does not match answers
 * 400 QUIVER_INVALID_TOPIC_NAME (plugins/app/errors.ts), as POST /v1/topics does.
 */
export const TopicParamsSchema = Type.Object({ topic: Type.String({ pattern: TOPIC_NAME_PATTERN, description: 'topic name' }) })
export type TopicParams = Static<typeof TopicParamsSchema>
