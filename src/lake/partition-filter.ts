import type { TopicRecord } from '../schema/topic-schema.ts'
import { Type } from 'apache-arrow'
import { INGESTED_AT, parseType } from '../schema/types.ts'
import { ValidationError } from '../errors.ts'
import { escapePathName } from './hive-path.ts'
import { specOf } from './partition-spec.ts'

/** `partitions[tenant]`: the OpenAPI object parameter sent as a deepObject (openapi-fetch's default). */
const DEEP = /^partitions\[([^\]]+)\]$/

const NO_PARAMS: ReadonlySet<string> = new Set()

/** The topic's top-level integer fields: their keys hold the value in decimal, so `?n=007` means `n=7`. */
function intColumns (topic: TopicRecord): Set<string> {
  return new Set(topic.schema.fields.filter((f) => parseType(String(f.type)).typeId === Type.Int).map((f) => f.name))
}

/** An integer filter's value as its key spells it (`007` → `7`, `+7` → `7`); empty selects nulls. */
function integerText (name: string, value: string): string {
  if (value === '') return value
  if (!/^[+-]?\d{1,20}$/.test(value.trim())) throw new ValidationError(`partition filter ${name} must be an integer`)
  return BigInt(value.trim()).toString()
}

/**
 * `?tenant=acme&day=02` → a test on object keys, so objects of other partitions are never opened.
 * A filter may also be spelled `partitions[tenant]=acme`, as clients generated from the OpenAPI
 * document send its `partitions` object by default. Names are the topic's `partitionBy` fields plus the time directories; a value is compared as
 * Hive wrote it (escaped; `tenant=` selects nulls and empty strings), time parts as numbers.
 * Returns null when the query filters nothing.
 */
export function partitionFilter (topic: TopicRecord, query: Record<string, unknown>, own: ReadonlySet<string> = NO_PARAMS): ((key: string) => boolean) | null {
  const spec = specOf(topic)
  const timeNames = spec.timePartition.granularity === 'hour' ? ['year', 'month', 'day', 'hour'] : ['year', 'month', 'day']
  const wanted: Array<(segments: Map<string, string>) => boolean> = []
  for (const [param, raw] of Object.entries(query)) {
    const deep = DEEP.exec(param)
    if ((deep === null && own.has(param)) || raw === undefined) continue
    const name = deep === null ? param : deep[1]
    const value = String(raw)
    if (spec.partitionBy.includes(name)) {
      const escaped = escapePathName(intColumns(topic).has(name) ? integerText(name, value) : value)
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
