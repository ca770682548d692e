import type { TopicRecord } from '../schema/topic-schema.ts'
import { TopicNotFoundError } from '../errors.ts'
import { errorResponses } from './error-schema.ts'
import { TopicParamsSchema } from './params.ts'

/** What a topic's WebSocket route (/stream, /tail) declares besides its own texts: the same token, name and refusals. */
export const topicUpgradeSchema = {
  security: [{ bearerAuth: [] }],
  params: TopicParamsSchema,
  response: errorResponses(400, 401, 403, 404, 429, 503)
}

/**
 * For WebSocket routes: an unknown topic that cannot be auto-created fails before the upgrade,
 * so clients see a plain 404 instead of a socket closed at once. (The name itself is checked by
 * TopicParamsSchema before this runs.)
 */
export async function checkTopicBeforeUpgrade (catalog: { get (name: string): Promise<TopicRecord | null> }, topic: string, autoCreate: boolean): Promise<void> {
  if (!autoCreate && !(await catalog.get(topic))) throw new TopicNotFoundError(topic)
}
