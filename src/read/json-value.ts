import {
  type Data, type DataType, type Date_, DateUnit, type Decimal, type Field, type FixedSizeBinary, type FixedSizeList, type Float, type Int,
  makeVector, Precision, type Time, type Timestamp, Type, util
} from 'apache-arrow'
import { decimalString, unscaled } from '../arrow/decimal-range.ts'

/*
 * apache-arrow's convention throughout: value and offset buffers (and children) are already
 * sliced, so value i is at index i; only bitmaps add `offset`.
 *
 * One stored value as JSON for `GET …/records` (NDJSON) and `quiver tail`, read from the column's
 * buffers so that nothing goes through a JavaScript number it does not fit:
 * - int64/uint64 and durations: numbers while exact (|v| ≤ 2^53−1), decimal strings beyond;
 *   a duration's unit is the one in the topic schema;
 * - decimals: exact strings (`"12.34"`); floats: numbers, `"NaN"`/`"Infinity"`/`"-Infinity"`;
 * - timestamps: ISO 8601 UTC with microseconds; dates `YYYY-MM-DD`; times `HH:MM:SS.ffffff`
 *   (nanosecond times keep 9 digits); dates past 0000-9999 with expanded years (`+275760-09-14`),
 *   times outside the day as a signed elapsed time (`-00:00:00.000001`), never through Date;
 * - binary and fixed_size_binary: standard base64;
 * - maps: an object when the keys are strings, else `[[key, value], …]`; lists arrays; structs objects.
 */

export type ToJson = (d: Data, i: number) => unknown

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const text = new TextDecoder()

function int64 (v: bigint): number | string {
  return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v.toString()
}

const UNIT_TO_US: Array<[bigint, bigint]> = [[1_000_000n, 1n], [1000n, 1n], [1n, 1n], [1n, 1000n]]
const PER_SECOND = [1n, 1000n, 1_000_000n, 1_000_000_000n]
/** The last three digits of an ISO timestamp with microseconds, and its `Z`. */
const MICROS = Array.from({ length: 1000 }, (_, k) => `${String(k).padStart(3, '0')}Z`)

const US_PER_DAY = 86_400_000_000n
const MS_PER_DAY = 86_400_000n
const two = (n: number) => n < 10 ? `0${n}` : String(n)

/** Floor division (BigInt division truncates toward zero). */
function floorDiv (a: bigint, b: bigint): bigint {
  const q = a / b
  return a % b < 0n ? q - 1n : q
}

/**
 * Days since 1970-01-01 → `YYYY-MM-DD` in the proleptic Gregorian calendar, in integers (Howard
 * Hinnant's civil_from_days), so every stored value prints: Date covers ±100,000,000 days, while
 * date32 spans ±2^31 days (DuckDB writes `'infinity'::DATE` as 2^31−1) and an int64 of
 * microseconds ±292,277 years. Years outside 0000-9999 print as ISO 8601 expanded years, a sign
 * and at least six digits (`+275760-09-14`, `-000001-12-31`), as Date#toISOString spells them.
 * Exact for |days| < 2^53 / 400 (every caller's range: date64 and timestamp[s] reach ~10^14 days).
 */
export function isoDate (days: number): string {
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  const y = year >= 0 && year <= 9999 ? String(year).padStart(4, '0') : `${year < 0 ? '-' : '+'}${String(Math.abs(year)).padStart(6, '0')}`
  return `${y}-${two(month)}-${two(day)}`
}

/** Epoch microseconds → ISO 8601 UTC with 6 fractional digits, for any int64 (and beyond). */
export function isoMicros (us: bigint): string {
  const days = floorDiv(us, US_PER_DAY)
  const inDay = Number(us - days * US_PER_DAY) // 0 … 86,399,999,999: exact
  const secs = Math.floor(inDay / 1_000_000)
  const frac = String(inDay - secs * 1_000_000).padStart(6, '0')
  return `${isoDate(Number(days))}T${two(Math.floor(secs / 3600))}:${two(Math.floor(secs / 60) % 60)}:${two(secs % 60)}.${frac}Z`
}

/**
 * Time of day in `unit` → `HH:MM:SS.ffffff` (9 digits for nanoseconds). Arrow means a time to lie
 * within the day, but an int32/int64 holds any value, and objects may hold ones outside it: those
 * print as the signed time elapsed since midnight, hours beyond 23 kept (`-00:00:00.000001`,
 * `25:00:00.000000`), a well-formed, exact spelling rather than a wrapped or garbled one.
 */
export function timeOfDay (v: bigint, unit: number): string {
  const per = PER_SECOND[unit]
  const a = v < 0n ? -v : v
  const secs = a / per
  const frac = a % per
  const pad = (n: bigint) => String(n).padStart(2, '0')
  const digits = unit === 3 ? 9 : 6
  const fracDigits = unit === 3 ? frac : frac * (1_000_000n / per)
  return `${v < 0n ? '-' : ''}${pad(secs / 3600n)}:${pad((secs / 60n) % 60n)}:${pad(secs % 60n)}.${String(fracDigits).padStart(digits, '0')}`
}

function number (v: number): number | string {
  return Number.isFinite(v) ? v : String(v)
}

function bytesOf (d: Data, i: number): Uint8Array {
  const off = d.valueOffsets as Int32Array | BigInt64Array
  return (d.values as Uint8Array).subarray(Number(off[i]), Number(off[i + 1]))
}

function b64 (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

function raw (t: DataType): ToJson {
  switch (t.typeId) {
    case Type.Bool: return (d, i) => {
      const k = d.offset + i // bit-packed values keep the slice offset, like the validity bitmap
      return ((d.values as Uint8Array)[k >> 3] & (1 << (k & 7))) !== 0
    }
    case Type.Int: return (t as Int).bitWidth === 64
      ? (d, i) => int64(BigInt((d.values as BigInt64Array)[i]))
      : (d, i) => (d.values as Int32Array)[i]
    case Type.Float: return (t as Float).precision === Precision.HALF
      ? (d, i) => number(util.uint16ToFloat64((d.values as Uint16Array)[i]))
      : (d, i) => number((d.values as Float64Array)[i])
    case Type.Decimal: {
      const { scale, bitWidth } = t as Decimal
      return (d, i) => decimalString(unscaled(d.values as unknown as Uint32Array, i, bitWidth / 32), scale)
    }
    case Type.Date: return (t as Date_).unit === DateUnit.DAY
      ? (d, i) => isoDate((d.values as Int32Array)[i])
      : (d, i) => isoDate(Number(floorDiv((d.values as BigInt64Array)[i], MS_PER_DAY)))
    case Type.Time: {
      const unit = (t as Time).unit
      return (d, i) => timeOfDay(BigInt((d.values as Int32Array | BigInt64Array)[i]), unit)
    }
    case Type.Timestamp: {
      const [mul, div] = UNIT_TO_US[(t as Timestamp).unit]
      if (mul !== 1n || div !== 1n) return (d, i) => isoMicros(floorDiv((d.values as BigInt64Array)[i] * mul, div))
      // Microseconds (what is stored): in plain numbers while exact, and the date part of the last
      // millisecond kept, as a column's neighbours (every `__ingested_at` of a batch) share it.
      let lastMs = NaN
      let lastIso = ''
      return (d, i) => {
        const v = (d.values as BigInt64Array)[i]
        if (v > MAX_SAFE || v < -MAX_SAFE) return isoMicros(v)
        const us = Number(v)
        let rest = us % 1000
        if (rest < 0) rest += 1000
        const ms = (us - rest) / 1000
        if (ms !== lastMs) { lastIso = new Date(ms).toISOString().slice(0, -1); lastMs = ms }
        return lastIso + MICROS[rest]
      }
    }
    case Type.Duration: return (d, i) => int64((d.values as BigInt64Array)[i])
    case Type.Utf8: case Type.LargeUtf8: return (d, i) => text.decode(bytesOf(d, i))
    case Type.Binary: case Type.LargeBinary: return (d, i) => b64(bytesOf(d, i))
    case Type.FixedSizeBinary: {
      const w = (t as FixedSizeBinary).byteWidth
      return (d, i) => b64((d.values as Uint8Array).subarray(i * w, (i + 1) * w))
    }
    case Type.List: case Type.LargeList: {
      const item = jsonValueOf(t.children[0].type)
      return (d, i) => {
        const off = d.valueOffsets as Int32Array | BigInt64Array
        const out: unknown[] = []
        for (let k = Number(off[i]); k < Number(off[i + 1]); k++) out.push(item(d.children[0], k))
        return out
      }
    }
    case Type.FixedSizeList: {
      const item = jsonValueOf(t.children[0].type)
      const n = (t as FixedSizeList).listSize
      return (d, i) => Array.from({ length: n }, (_, k) => item(d.children[0], i * n + k))
    }
    case Type.Struct: {
      const kids = (t.children as Field[]).map((f) => [f.name, jsonValueOf(f.type)] as const)
      return (d, i) => Object.fromEntries(kids.map(([name, f], k) => [name, f(d.children[k], i)]))
    }
    case Type.Map: {
      const [kf, vf] = t.children[0].type.children as Field[]
      const key = jsonValueOf(kf.type)
      const value = jsonValueOf(vf.type)
      const strings = kf.type.typeId === Type.Utf8 || kf.type.typeId === Type.LargeUtf8
      return (d, i) => {
        const off = d.valueOffsets as Int32Array
        const entries = d.children[0]
        const pairs: Array<[unknown, unknown]> = []
        for (let k = off[i]; k < off[i + 1]; k++) pairs.push([key(entries.children[0], k), value(entries.children[1], k)])
        return strings ? Object.fromEntries(pairs) : pairs
      }
    }
    default: return (d, i) => makeVector(d).get(i) // not a stored type (views and dictionaries are stored plain)
  }
}

/** The JSON converter for values of type `t` (null for a null slot). */
export function jsonValueOf (t: DataType): ToJson {
  const f = raw(t)
  return (d, i) => d.getValid(i) ? f(d, i) : null
}
