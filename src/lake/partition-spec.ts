import type { Static } from '@sinclair/typebox'
import { type DataType, Type } from 'apache-arrow'
import type { TopicSchema } from '../schema/topic-schema.ts'
import { INGESTED_AT, parseType } from '../schema/types.ts'
import { MAX_PARTITION_COLUMNS, PartitionBySchema, TimePartitionSchema } from '../schema/partition-schema.ts'
import { InvalidPartitionError } from '../errors.ts'

export { MAX_PARTITION_COLUMNS, PartitionBySchema, TimePartitionSchema }

/** Directory names the time bucket uses; a partition column by those names would read back ambiguously. */
const TIME_DIRS = new Set(['year', 'month', 'day', 'hour'])

export type TimePartition = Static<typeof TimePartitionSchema>

/** How a topic's objects are laid out: partition columns, then a time bucket. */
export interface PartitionSpec {
  partitionBy: string[]
  timePartition: TimePartition
}

export const DEFAULT_TIME_PARTITION: TimePartition = { field: INGESTED_AT, granularity: 'hour' }

/** The spec stored with a topic, defaults applied (topics created before partitions have none). */
export function specOf (record: { partitionBy?: string[], timePartition?: TimePartition }): PartitionSpec {
  return { partitionBy: record.partitionBy ?? [], timePartition: record.timePartition ?? DEFAULT_TIME_PARTITION }
}

/** True for the default layout (arrival hour only): no value of a row decides where it goes. */
export function isArrivalHourly (spec: PartitionSpec): boolean {
  return spec.partitionBy.length === 0 && spec.timePartition.field === INGESTED_AT && spec.timePartition.granularity === 'hour'
}

function isPartitionable (t: DataType): boolean {
  switch (t.typeId) {
    case Type.Utf8: case Type.LargeUtf8: case Type.Int: case Type.Bool: return true
    case Type.Date: return (t as unknown as { unit: number }).unit === 0
    default: return false
  }
}

/**
 * Checks `partitionBy` and `timePartition` against the topic schema and returns the spec with
 * defaults. Anything but the documented shapes is a 400 QUIVER_INVALID_PARTITION naming the problem.
 */
export function validatePartitionSpec (schema: TopicSchema, partitionBy: unknown, timePartition: unknown): PartitionSpec {
  const fields = new Map(schema.fields.map((f) => [f.name, f]))
  const by = partitionBy ?? []
  if (!Array.isArray(by)) throw new InvalidPartitionError('partitionBy must be an array of field names')
  if (by.length > MAX_PARTITION_COLUMNS) throw new InvalidPartitionError(`partitionBy has ${by.length} fields; at most ${MAX_PARTITION_COLUMNS}`)
  const seen = new Set<string>()
  for (const name of by) {
    if (typeof name !== 'string') throw new InvalidPartitionError('partitionBy must be an array of field names')
    const f = fields.get(name)
    if (!f) throw new InvalidPartitionError(`partitionBy field "${name}" is not a field of the topic`)
    if (seen.has(name)) throw new InvalidPartitionError(`partitionBy names "${name}" twice`)
    if (TIME_DIRS.has(name.toLowerCase())) throw new InvalidPartitionError(`partitionBy field "${name}" clashes with the time directories (year, month, day, hour)`)
    if (!isPartitionable(parseType(f.type))) throw new InvalidPartitionError(`partitionBy field "${name}" has type ${f.type}; only top-level string, integer, bool or date32 fields partition`)
    seen.add(name)
  }
  const tp = timePartition ?? DEFAULT_TIME_PARTITION
  if (typeof tp !== 'object' || tp === null || Array.isArray(tp)) throw new InvalidPartitionError('timePartition must be an object {field, granularity}')
  const extra = Object.keys(tp).filter((k) => k !== 'field' && k !== 'granularity')
  if (extra.length > 0) throw new InvalidPartitionError(`timePartition has unknown member "${extra[0]}"`)
  const { field, granularity } = tp as Record<string, unknown>
  if (granularity !== 'hour' && granularity !== 'day') throw new InvalidPartitionError('timePartition.granularity must be "hour" or "day"')
  if (typeof field !== 'string') throw new InvalidPartitionError(`timePartition.field must be a timestamp field or "${INGESTED_AT}"`)
  if (field !== INGESTED_AT) {
    const f = fields.get(field)
    if (!f) throw new InvalidPartitionError(`timePartition field "${field}" is not a field of the topic`)
    if (parseType(f.type).typeId !== Type.Timestamp) throw new InvalidPartitionError(`timePartition field "${field}" has type ${f.type}; it must be a timestamp`)
    if (f.nullable !== false) throw new InvalidPartitionError(`timePartition field "${field}" must be declared "nullable": false (every row needs a time bucket)`)
  }
  return { partitionBy: [...by] as string[], timePartition: { field, granularity } }
}
