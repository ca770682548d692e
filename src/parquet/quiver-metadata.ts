/**
 * Key-value metadata every Parquet object Quiver commits carries in its footer. The read side
 * lists and serves only objects whose footer names the topic they are listed under, so another
 * system's files under a shared prefix (`othersys/exports/payroll.parquet`) are never taken
 * for a topic's data.
 */
export const TOPIC_KEY = 'quiver.topic'

/** The footer metadata of an object committed for `topic`. */
export function commitMetadata (topic: string): Record<string, string> {
  return { [TOPIC_KEY]: topic }
}

/** The Idempotency-Keys whose rows an object commits: `scope:generation`, comma-separated (src/pipeline/idempotency.ts). */
export const IDEMPOTENCY_KEYS = 'quiver.idempotency_keys'
