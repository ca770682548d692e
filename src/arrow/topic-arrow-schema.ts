import type { Schema } from 'apache-arrow'
import type { TopicRecord, TopicSchema } from '../schema/topic-schema.ts'
import { toArrowSchema } from '../schema/types.ts'

const MAX_CACHED = 1024
// One Arrow Schema object per topic incarnation: matchSchema's cache and the batches of one
// buffer then share it, and the type strings are parsed once, not on every message.
const schemas = new Map<string, { json: string, schema: Schema }>()
// The catalog hands out one record object while it caches it: a hit here costs no serialisation
// (a 10,000-field schema is ~1 MB of JSON, too much to stringify per message).
const bySpec = new WeakMap<TopicSchema, Schema>()

/** The topic's schema as an Arrow Schema (stable object for an unchanged record). */
export function topicArrowSchema (topic: TopicRecord): Schema {
  const key = `${topic.name}@${topic.createdAt}`
  const direct = bySpec.get(topic.schema)
  if (direct !== undefined && schemas.has(key)) return direct
  const json = JSON.stringify(topic.schema)
  const hit = schemas.get(key)
  if (hit !== undefined && hit.json === json) {
    bySpec.set(topic.schema, hit.schema)
    return hit.schema
  }
  if (schemas.size >= MAX_CACHED) schemas.clear()
  const schema = direct ?? toArrowSchema(topic.schema)
  schemas.set(key, { json, schema })
  bySpec.set(topic.schema, schema)
  return schema
}

/**
 * Parses a schema about to be stored (auto-creation) and keeps the result: the record the
 * catalog stores holds this very object, so topicArrowSchema reuses it instead of parsing again.
 * @throws Error from toArrowSchema when the schema cannot be expressed in Arrow
 */
export function primeTopicArrowSchema (spec: TopicSchema): Schema {
  const schema = toArrowSchema(spec)
  bySpec.set(spec, schema)
  return schema
}
