import { type Data, type Date_, DateUnit, type Time, type Timestamp, TimeUnit, Type } from 'apache-arrow'
import { ValueOutOfRangeError } from '../errors.ts'
import { int64Words, isSafeInt64, readInt64 } from './int64-words.ts'

const INT64_MAX = 2n ** 63n - 1n
const DAY_MS = 86_400_000
/** Units per second, by TimeUnit. */
const PER_SECOND = [1, 1000, 1_000_000, 1_000_000_000]
const UNIT = ['s', 'ms', 'us', 'ns']

/**
 * Values that are valid Arrow but that their stored form cannot hold are refused with the field
 * and row named (422), never stored wrong. Found from outside: `timestamp[s]` 10^14 (stored as µs:
 * ×10^6 overflows int64) was stored as year 248073 and int64 max seconds as −1 s; `time32[s]`
 * 3,000,000 wrapped on its way to ms (DuckDB then failed with an INTERNAL error that invalidated
 * its database); date64 10^18 ms became a date in 3586956 BC. Checked:
 * - timestamps in s or ms: their value in µs fits int64 (src/arrow/encode.ts stores µs);
 * - times: within the day, 0 to 24:00:00 (Parquet TIME is a time of day; what readers accept);
 * - date64: its day fits date32 (stored as date32).
 * Null slots are skipped (their bytes are anything). Cost: one pass over such columns, reading
 * the high word of 64-bit values and a BigInt only past 2^53.
 */
export function checkStoredRange (d: Data, path: string): void {
  switch (d.typeId) {
    case Type.Timestamp: {
      const unit = (d.type as Timestamp).unit
      if (unit === TimeUnit.SECOND || unit === TimeUnit.MILLISECOND) {
        const limit = INT64_MAX / BigInt(1_000_000 / PER_SECOND[unit])
        // in s the limit is below 2^53, in ms above it
        const safe = unit === TimeUnit.SECOND ? (v: number) => v <= Number(limit) && v >= -Number(limit) : () => true
        check64(d, path, safe, (v) => v <= limit && v >= -limit, (v) => `timestamp[${UNIT[unit]}] ${v} is beyond what microseconds hold in 64 bits (±${limit} ${UNIT[unit]}, the year ±294247)`)
      }
      break
    }
    case Type.Time: {
      const unit = (d.type as Time).unit
      const max = 86_400 * PER_SECOND[unit]
      const why = (v: bigint | number) => `time ${v} ${UNIT[unit]} is not a time of day (0 to ${max} ${UNIT[unit]}, 24:00:00)`
      if ((d.type as Time).bitWidth === 32) check32(d, path, max, why)
      else check64(d, path, (v) => v >= 0 && v <= max, (v) => v >= 0n && v <= BigInt(max), why)
      break
    }
    case Type.Date: {
      if ((d.type as Date_).unit !== DateUnit.MILLISECOND) break
      // date32 holds days -2^31 … 2^31-1: floor(ms / day) must be among them
      const lo = -(2n ** 31n) * BigInt(DAY_MS)
      const hi = 2n ** 31n * BigInt(DAY_MS) - 1n
      check64(d, path, () => true, (v) => v >= lo && v <= hi, (v) => `date64 ${v} ms is beyond the dates date32 holds (about ±5.8 million years)`)
      break
    }
  }
}

function isValid (d: Data, i: number): boolean {
  const nulls = d.nullCount !== 0 ? d.nullBitmap as Uint8Array | undefined : undefined
  return nulls === undefined || nulls.length === 0 || (nulls[i >> 3] & (1 << (i & 7))) !== 0
}

/** 64-bit values: those below 2^53 in magnitude are checked as doubles (`safe`), the others with `ok` on a BigInt. */
function check64 (d: Data, path: string, safe: (v: number) => boolean, ok: (v: bigint) => boolean, why: (v: bigint) => string): void {
  const values = d.values as BigInt64Array
  const w = int64Words(values)
  for (let i = d.offset; i < d.offset + d.length; i++) {
    if (isSafeInt64(w, i) && safe(readInt64(w, i))) continue
    if (!isValid(d, i)) continue
    const v = values[i]
    if (!ok(v)) throw new ValueOutOfRangeError(`field "${path}": row ${i - d.offset}: ${why(v)}`)
  }
}

function check32 (d: Data, path: string, max: number, why: (v: number) => string): void {
  const values = d.values as Int32Array
  for (let i = d.offset; i < d.offset + d.length; i++) {
    const v = values[i]
    if (v >= 0 && v <= max) continue
    if (!isValid(d, i)) continue
    throw new ValueOutOfRangeError(`field "${path}": row ${i - d.offset}: ${why(v)}`)
  }
}
