import { randomBytes } from 'node:crypto'

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

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

/** Base32 (Crockford) of a non-negative integer, left-padded to `len` characters. */
export function encodeBase32 (value: number | bigint, len: number): string {
  let v = BigInt(value)
  let out = ''
  for (let i = 0; i < len; i++) {
    out = CROCKFORD[Number(v & 31n)] + out
    v >>= 5n
  }
  if (v !== 0n) throw new RangeError(`value does not fit in ${len} base32 characters`)
  return out
}

/** Reads the millisecond timestamp back out of an id from `newObjectId`. */
export function decodeTime (id: string): number {
  let v = 0
  for (const ch of id.slice(0, 10)) {
    const d = CROCKFORD.indexOf(ch)
    if (d < 0) throw new RangeError(`not a Crockford base32 id: ${id}`)
    v = v * 32 + d
  }
  return v
}

const COUNTER_CHARS = 6
const COUNTER_MAX = 32 ** COUNTER_CHARS - 1
const INSTANCE_CHARS = 10

/**
 * Id generator: 10 chars of ms time (48 bits), 6 chars of a per-ms counter, 10 chars of a random
 * instance id (50 bits). Sorts by time; within one process ids are strictly increasing even if the
 * clock steps back (the last time is kept); across instances the random suffix keeps them unique.
 */
/** Random per-process id (50 bits), shared by object ids and S3 create claims. */
export const INSTANCE_ID = encodeBase32(BigInt('0x' + randomBytes(7).toString('hex')) & ((1n << 50n) - 1n), INSTANCE_CHARS)

export function createIdGenerator (instanceId = INSTANCE_ID, now: () => number = Date.now) {
  let lastTime = -1
  let counter = 0
  return function next (): string {
    let t = now()
    if (t <= lastTime) {
      t = lastTime
      counter++
      if (counter > COUNTER_MAX) {
        // Billions of ids in one ms cannot happen in practice; borrowing the next ms keeps order.
        t = ++lastTime
        counter = 0
      }
    } else {
      counter = 0
    }
    lastTime = t
    return encodeBase32(t, 10) + encodeBase32(counter, COUNTER_CHARS) + instanceId
  }
}

const defaultGenerator = createIdGenerator()

/** Unique across gateway instances, lexicographically sortable by time, monotonic within a process. */
export function newObjectId (): string {
  return defaultGenerator()
}
