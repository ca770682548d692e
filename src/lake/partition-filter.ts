import type { TopicRecord } from '../schema/topic-schema.ts'
import { INGESTED_AT } from '../schema/types.ts'
import { ValidationError } from '../errors.ts'
import { escapePathName } from './hive-path.ts'
import { specOf } from './partition-spec.ts'

/** Query parameters of the read routes that are not partition filters. */
const READ_PARAMS = new Set(['from', 'to', 'limit'])

/**
 * `?tenant=acme&day=02` → a test on object keys, so objects of other partitions are never opened.
 * Names are the topic's `partitionBy` fields plus the time directories; a value is compared as
 * Hive wrote it (escaped; `tenant=` selects nulls and empty strings), time parts as numbers.
 * Returns null when the query filters nothing.
 */
export function partitionFilter (topic: TopicRecord, query: Record<string, unknown>): ((key: string) => boolean) | null {
  const spec = specOf(topic)
  const timeNames = spec.timePartition.granularity === 'hour' ? ['year', 'month', 'day', 'hour'] : ['year', 'month', 'day']
  const wanted: Array<(segments: Map<string, string>) => boolean> = []
  for (const [name, raw] of Object.entries(query)) {
    if (READ_PARAMS.has(name) || raw === undefined) continue
    const value = String(raw)
    if (spec.partitionBy.includes(name)) {
      const escaped = escapePathName(value)
      wanted.push((s) => s.get(escapePathName(name)) === escaped)
    } else if (timeNames.includes(name)) {
      const n = Number(value)
      if (!/^\d{1,4}$/.test(value)) throw new ValidationError(`partition filter ${name} must be a number`)
      wanted.push((s) => s.has(name) && Number(s.get(name)) === n)
    } else {
      const known = [...spec.partitionBy, ...timeNames].join(', ')
      throw new ValidationError(`"${name}" is not a partition of topic "${topic.name}" (filters: ${known}; time is ${spec.timePartition.field === INGESTED_AT ? 'arrival' : spec.timePartition.field})`)
    }
  }
  if (wanted.length === 0) return null
  return (key) => {
    const segments = new Map<string, string>()
    const parts = key.split('/')
    for (const p of parts.slice(1, -1)) {
      const eq = p.indexOf('=')
      if (eq > 0) segments.set(p.slice(0, eq), p.slice(eq + 1))
    }
    return wanted.every((w) => w(segments))
  }
}
