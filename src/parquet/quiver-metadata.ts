/**
 * Key-value metadata every Parquet object Quiver commits carries in its footer. The read side
 * lists and serves only objects whose footer names the topic they are listed under, so another
 * system's files under a shared prefix (`othersys/exports/payroll.parquet`) are never taken
 * for a topic's data.
 */
export const TOPIC_KEY = 'quiver.topic'

/**
 * The topic's `createdAt`: a name deleted and created again is another topic, whose reads must not
 * take the earlier one's objects (still kept under the name) for its own.
 */
export const TOPIC_CREATED_AT = 'quiver.topic_created_at'

/** The footer metadata of an object committed for `topic` (created at `createdAt`, when known). */
export function commitMetadata (topic: string, createdAt?: string): Record<string, string> {
  return createdAt === undefined ? { [TOPIC_KEY]: topic } : { [TOPIC_KEY]: topic, [TOPIC_CREATED_AT]: createdAt }
}

/** The Idempotency-Keys whose rows an object commits: `scope:generation`, comma-separated (src/pipeline/idempotency.ts). */
export const IDEMPOTENCY_KEYS = 'quiver.idempotency_keys'
