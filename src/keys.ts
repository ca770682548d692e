import { monotonicFactory } from 'ulidx'

function pad2 (n: number): string {
  return n < 10 ? `0${n}` : String(n)
}

export interface Partition {
  year: string
  month: string
  day: string
  hour: string
}

/** Hive partition of an ingestion time, always in UTC so every instance agrees. */
export function partitionOf (date: Date): Partition {
  return {
    year: String(date.getUTCFullYear()).padStart(4, '0'),
    month: pad2(date.getUTCMonth() + 1),
    day: pad2(date.getUTCDate()),
    hour: pad2(date.getUTCHours())
  }
}

/** Key prefix of one partition, e.g. `t/year=2026/month=01/day=02/hour=03/`. */
export function partitionPrefix (topic: string, date: Date): string {
  const p = partitionOf(date)
  return `${topic}/year=${p.year}/month=${p.month}/day=${p.day}/hour=${p.hour}/`
}

/** `{topic}/year=YYYY/month=MM/day=DD/hour=HH/{id}.parquet`; S3_PREFIX / DATA_DIR is the sink's business. */
export function objectKey (topic: string, date: Date, id: string): string {
  return `${partitionPrefix(topic, date)}${id}.parquet`
}

/** Reads the millisecond timestamp back out of an id from `newObjectId`. */
export { decodeTime } from 'ulidx'

const nextUlid = monotonicFactory()

/**
 * A monotonic ULID: 48 bits of ms time then 80 random bits, Crockford base32, 26 characters.
 * Sorts by time; within one process ids strictly increase even within a ms or when the clock
 * steps back (ulidx keeps the last time and increments the random part); across instances the
 * 80 random bits keep them unique.
 */
export function newObjectId (): string {
  return nextUlid()
}

/** `{topic}/{dir}/{id}.parquet`, `dir` from the partitioner (`tenant=acme/year=…/hour=HH`). */
export function partitionedObjectKey (topic: string, dir: string, id: string): string {
  return `${topic}/${dir}/${id}.parquet`
}
