/**
 * The `topic` label values /metrics may show. Unauthenticated scrapers would otherwise learn the
 * name and volume of every topic, and writers who create topics could grow the label set without
 * bound. Only topics the catalog holds reach the counters (a row is accepted only for a catalog
 * topic); the first `max` of them get their own label, every later one counts under OTHER_TOPICS.
 */

/** Not a valid topic name (names start with a letter), so it never collides with one. */
export const OTHER_TOPICS = '_other'

export interface TopicLabels {
  /** The label value for `topic`'s series: its name while the bound allows, else OTHER_TOPICS. */
  of (topic: string): string
}

export function createTopicLabels (max: number): TopicLabels {
  const labelled = new Set<string>()
  return {
    of (topic) {
      if (labelled.has(topic)) return topic
      if (labelled.size >= max) return OTHER_TOPICS
      labelled.add(topic)
      return topic
    }
  }
}
