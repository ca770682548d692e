import { TimeUnit } from 'apache-arrow'

/** A value's short description for error messages: `"abc"`, `12`, `true`, `object`, `array`. */
export function describe (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'object') return 'object'
  if (typeof v === 'bigint') return String(v)
  const s = JSON.stringify(v)
  return s.length > 40 ? s.slice(0, 37) + '...' : s
}

const INT_STRING = /^-?\d{1,20}$/

/** int64/uint64 from a safe integer number, a decimal string or a bigint; undefined when not one. */
export function toBigInt (v: unknown, signed: boolean): bigint | undefined {
  let b: bigint
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) return undefined
    b = BigInt(v)
  } else if (typeof v === 'string' && INT_STRING.test(v)) b = BigInt(v)
  else if (typeof v === 'bigint') b = v
  else return undefined
  return (signed ? BigInt.asIntN(64, b) : BigInt.asUintN(64, b)) === b ? b : undefined
}

/** float/double from a number or the strings NaN, Infinity, -Infinity (JSON cannot spell them). */
export function toFloat (v: unknown): number | undefined {
  if (typeof v === 'number') return v
  if (v === 'NaN') return NaN
  if (v === 'Infinity') return Infinity
  if (v === '-Infinity') return -Infinity
  return undefined
}

function utcMs (y: number, mo: number, d: number, h: number, mi: number, s: number): number | undefined {
  const date = new Date(0)
  date.setUTCFullYear(y, mo - 1, d) // not Date.UTC: it maps years 0–99 to 1900–1999
  date.setUTCHours(h, mi, s, 0)
  const ok = date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d &&
    h < 24 && mi < 60 && s < 60
  return ok ? date.getTime() : undefined
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/

/** date32[day]: `YYYY-MM-DD` → days since 1970-01-01. */
export function toDays (v: unknown): number | undefined {
  const m = typeof v === 'string' ? DATE.exec(v) : null
  if (m === null) return undefined
  const ms = utcMs(+m[1], +m[2], +m[3], 0, 0, 0)
  return ms === undefined ? undefined : ms / 86_400_000
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i
const PER_SECOND: Record<number, bigint> = {
  [TimeUnit.SECOND]: 1n, [TimeUnit.MILLISECOND]: 1000n, [TimeUnit.MICROSECOND]: 1_000_000n, [TimeUnit.NANOSECOND]: 1_000_000_000n
}

/**
 * A timestamp in `unit` from
 * - an ISO 8601 string: `2024-05-01T12:00:00.123456Z`, offsets `+02:00`, a space instead of `T`,
 *   date only; without an offset it is taken as UTC; digits finer than the unit are dropped;
 * - a number: **epoch milliseconds** (JavaScript's `Date.now()` convention), fractions allowed.
 */
export function toTimestamp (v: unknown, unit: TimeUnit): bigint | undefined {
  const r = timestamp(v, unit)
  return r !== undefined && BigInt.asIntN(64, r) === r ? r : undefined // e.g. year 1 in ns overflows
}

function timestamp (v: unknown, unit: TimeUnit): bigint | undefined {
  if (typeof v === 'number') {
    // Scaling a huge finite number can overflow to Infinity: check the scaled value.
    const scaled = unit === TimeUnit.SECOND ? Math.floor(v / 1000) : unit === TimeUnit.MILLISECOND ? Math.floor(v) : Math.round(v * 1000)
    if (!Number.isFinite(scaled)) return undefined
    return unit === TimeUnit.NANOSECOND ? BigInt(scaled) * 1000n : BigInt(scaled)
  }
  const m = typeof v === 'string' ? ISO.exec(v) : null
  if (m === null) return undefined
  const ms = utcMs(+m[1], +m[2], +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0))
  if (ms === undefined) return undefined
  let offsetMin = 0
  const tz = m[8]
  if (tz !== undefined && tz.toUpperCase() !== 'Z') {
    const digits = tz.slice(1).replace(':', '')
    const h = +digits.slice(0, 2)
    const mi = +(digits.slice(2) || 0)
    if (h > 23 || mi > 59) return undefined
    offsetMin = (tz[0] === '-' ? -1 : 1) * (h * 60 + mi)
  }
  const seconds = BigInt((ms - offsetMin * 60_000) / 1000)
  const nanos = BigInt((m[7] ?? '').padEnd(9, '0'))
  const per = PER_SECOND[unit]
  return seconds * per + nanos / (1_000_000_000n / per)
}

/** binary: standard base64 (padding required) → bytes. */
export function toBytes (v: unknown): Uint8Array | undefined {
  if (typeof v !== 'string' || v.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) return undefined
  return Buffer.from(v, 'base64')
}
