import { DataType, TimeUnit, type Field, type Schema } from 'apache-arrow'

/** 16 digits in a row: only a text with such a run can hold an integer JSON.parse would round. */
const LONG_DIGITS = /\d{16}/
/** 16 digits, a point allowed between two: a text with a fractional number JSON.parse may round. */
const LONG_NUMBER = /\d(?:\.?\d){15}/
// What a long literal becomes before JSON.parse: a string no producer sends (a NUL and a
// per-process nonce). Web Crypto: this module is also bundled for the browser console (src/console/build.mjs).
const NONCE = Array.from(globalThis.crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('')
const BIG_MARK = `\u0000quiver-int-${NONCE}:`
const NUM_MARK = `\u0000quiver-num-${NONCE}:`
const BIG_MARK_JSON = BIG_MARK.replace('\u0000', '\\u0000')
const NUM_MARK_JSON = NUM_MARK.replace('\u0000', '\\u0000')

/**
 * A JSON number with a fraction or an exponent and 16+ digits, as written: JSON.parse would round
 * it to a double (`0.12345678901234567890` → `0.12345678901234568`), and a decimal field must
 * store what was sent. Decimals read `text`; every other type reads `value`, the double
 * JSON.parse would have given.
 */
export class JsonNumber {
  readonly value: number
  constructor (readonly text: string) { this.value = Number(text) }
}

/** `v`, a JsonNumber as its double. */
const plain = (v: unknown): unknown => v instanceof JsonNumber ? v.value : v

/**
 * Which fractional numbers parseJson keeps as written: none (false), all (true), or those of the
 * named members of the top-level object (a row's decimal fields), so a row's long doubles (Python
 * writes 17 digits) are not slowed down for a decimal beside them.
 */
export type Fractions = boolean | ReadonlySet<string>

/**
 * JSON.parse, with integer literals of 16 digits and more read exactly, as bigint: int64 and
 * uint64 values written as bare numbers (Python, Go, Jackson, DuckDB write them so) were rounded
 * to doubles and refused, the error quoting a value never sent. Numbers with a fraction or an
 * exponent and 16+ digits are kept as written too (JsonNumber) where `fractions` says, for
 * decimal fields. Texts without such a run of digits (nearly all) go to JSON.parse as they are;
 * others have those literals (outside strings) marked, then revived. The converters take bigints
 * and JsonNumbers: exact for int64, uint64, decimals and durations, as doubles for floats and
 * timestamps.
 */
export function parseJson (text: string, fractions: Fractions = false): unknown {
  if (!(fractions === false ? LONG_DIGITS : LONG_NUMBER).test(text)) return JSON.parse(text)
  const marked = markLongNumbers(text, fractions)
  if (marked === text) return JSON.parse(text)
  const value: unknown = JSON.parse(marked, revive)
  return plain(value) // a line that is one number is not a row: refused as a number
}

function revive (_k: string, v: unknown): unknown {
  if (typeof v !== 'string' || v.charCodeAt(0) !== 0) return v
  if (v.startsWith(BIG_MARK)) return BigInt(v.slice(BIG_MARK.length))
  if (v.startsWith(NUM_MARK)) return new JsonNumber(v.slice(NUM_MARK.length))
  return v
}

/**
 * The JSON parse for rows of `schema` (one row a text; `whole` for a text holding an array of
 * rows): long fractional numbers kept for its decimal fields, long integers read exactly when a
 * field (at any depth) holds 64-bit integers, durations or decimals; JSON.parse otherwise (the
 * digit scan costs ~0.3 µs a 90-byte line).
 */
export function jsonParserFor (schema: Schema, whole = false): (text: string) => unknown {
  const has = (f: Field, test: (t: DataType) => boolean): boolean => test(f.type) || (f.type.children ?? []).some((c: Field) => has(c, test))
  const isDecimal = (t: DataType): boolean => DataType.isDecimal(t)
  if (schema.fields.some((f) => has(f, isDecimal))) {
    // decimals only at the top: only those members are marked; nested ones: every member
    const fractions: Fractions = whole || schema.fields.some((f) => !isDecimal(f.type) && has(f, isDecimal))
      ? true
      : new Set(schema.fields.filter((f) => isDecimal(f.type)).map((f) => f.name))
    return (text) => parseJson(text, fractions)
  }
  const exact = (t: DataType): boolean => DataType.isDuration(t) || (DataType.isInt(t) && t.bitWidth === 64)
  return schema.fields.some((f) => has(f, exact)) ? parseJson : JSON.parse
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

/**
 * `text` with each integer literal of 16+ digits outside strings turned into a marked string, and
 * each other number of 16+ digits too where `fractions` says. Only valid JSON numbers are marked:
 * the rest is left for JSON.parse to refuse.
 */
function markLongNumbers (text: string, fractions: Fractions): string {
  const parts: string[] = []
  const byKey = typeof fractions === 'object'
  let last = 0
  let depth = 0
  let key = '' // the member of the top-level object being read (with byKey)
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x7b || c === 0x5b) { depth++; continue } // { [
    if (c === 0x7d || c === 0x5d) { depth--; continue } // } ]
    if (c === 0x22) { // a string: skipped to its closing quote
      const from = i
      let escaped = false
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i)
        if (d === 0x5c) { i++; escaped = true } else if (d === 0x22) break
      }
      if (byKey && depth === 1) {
        let k = i + 1
        while (k < text.length && (text.charCodeAt(k) === 0x20 || text.charCodeAt(k) === 0x09 || text.charCodeAt(k) === 0x0a || text.charCodeAt(k) === 0x0d)) k++
        if (text.charCodeAt(k) === 0x3a) key = escaped ? keyOf(text.slice(from, i + 1)) : text.slice(from + 1, i) // :
      }
      continue
    }
    if (c !== 0x2d && !isDigit(c)) continue
    const start = i
    let j = c === 0x2d ? i + 1 : i
    const first = j
    while (j < text.length && isDigit(text.charCodeAt(j))) j++
    const whole = j - first
    let fraction = -1 // digits after the point; -1 without one
    let exponent = -1 // digits of the exponent; -1 without one
    if (text.charCodeAt(j) === 0x2e) {
      const from = ++j
      while (j < text.length && isDigit(text.charCodeAt(j))) j++
      fraction = j - from
    }
    if (text.charCodeAt(j) === 0x65 || text.charCodeAt(j) === 0x45) {
      j++
      if (text.charCodeAt(j) === 0x2b || text.charCodeAt(j) === 0x2d) j++
      const from = j
      while (j < text.length && isDigit(text.charCodeAt(j))) j++
      exponent = j - from
    }
    // JSON: digits before any point, no leading zero but a lone one, digits after a point or an e
    const valid = whole > 0 && (whole === 1 || text.charCodeAt(first) !== 0x30) && fraction !== 0 && exponent !== 0
    if (valid && fraction === -1 && exponent === -1 && whole >= 16) {
      parts.push(text.slice(last, start), '"', BIG_MARK_JSON, text.slice(start, j), '"')
      last = j
    } else if (valid && (fraction !== -1 || exponent !== -1) && whole + Math.max(fraction, 0) >= 16 &&
      (fractions === true || (byKey && depth === 1 && fractions.has(key)))) {
      parts.push(text.slice(last, start), '"', NUM_MARK_JSON, text.slice(start, j), '"')
      last = j
    }
    i = j - 1
  }
  if (last === 0) return text
  parts.push(text.slice(last))
  return parts.join('')
}

/** A member name with escapes, as JSON.parse reads it (an invalid one: left for JSON.parse to refuse). */
function keyOf (quoted: string): string {
  try { return JSON.parse(quoted) as string } catch { return '' }
}

/** A value's short description for error messages: `"abc"`, `12`, `true`, `object`, `array`. */
export function describe (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (v instanceof JsonNumber) return v.text.length > 40 ? v.text.slice(0, 37) + '...' : v.text
  if (typeof v === 'object') return 'object'
  if (typeof v === 'bigint') return String(v)
  const s = JSON.stringify(v)
  return s.length > 40 ? s.slice(0, 37) + '...' : s
}

const INT_STRING = /^-?\d{1,20}$/

/** int64/uint64 from a safe integer number, a decimal string or a bigint; undefined when not one. */
export function toBigInt (v: unknown, signed: boolean): bigint | undefined {
  v = plain(v)
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
  if (v instanceof JsonNumber) return v.value
  if (typeof v === 'bigint') return Number(v)
  if (v === 'NaN') return NaN
  if (v === 'Infinity') return Infinity
  if (v === '-Infinity') return -Infinity
  return undefined
}

// The smallest magnitudes that round to ±Infinity: half an ulp above float32's largest value
// (3.4028234663852886e38) and float16's (65504). A finite JSON number at or past them would be
// stored as ±Infinity, a value never sent; the strings "Infinity"/"-Infinity" stay the way to send one.
const OVERFLOW = [65_520, 3.4028235677973366e38, Infinity]

/**
 * toFloat for a column of `precision` (0 halffloat, 1 float, 2 double): a finite number too large
 * for it is refused (undefined), like an integer out of its type's range; a finite value that
 * merely rounds (1e-50 → 0 in float32, 0.1) is accepted.
 */
export function toFloatOf (precision: number): (v: unknown) => number | undefined {
  const limit = OVERFLOW[precision] ?? Infinity
  if (limit === Infinity) return toFloat
  return (v) => {
    const x = toFloat(v)
    return x !== undefined && Number.isFinite(x) && Math.abs(x) >= limit ? undefined : x
  }
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

/** ISO 8601 date or date-time; group 4 (the hour) is set only for a date-time. */
export const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i
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
  if (r === undefined || BigInt.asIntN(64, r) !== r) return undefined // e.g. year 1 in ns overflows
  // Stored as µs (src/arrow/encode.ts): seconds and milliseconds must still fit 64 bits there
  // (epoch ms 99999999999999999 in a timestamp[s] column was stored as year 248073).
  const micros = unit === TimeUnit.SECOND ? r * 1_000_000n : unit === TimeUnit.MILLISECOND ? r * 1000n : r
  return BigInt.asIntN(64, micros) === micros ? r : undefined
}

function timestamp (v: unknown, unit: TimeUnit): bigint | undefined {
  v = plain(v)
  if (typeof v === 'bigint') v = Number(v) // epoch ms of 16+ digits: past year 2286, as any number
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

// The browser console runs this module too (src/console/build.mjs), where there is no Buffer.
const fromBase64 = typeof Buffer === 'function'
  ? (s: string): Uint8Array => Buffer.from(s, 'base64')
  : (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0))

/** binary: standard base64 (padding required) → bytes. */
export function toBytes (v: unknown): Uint8Array | undefined {
  if (typeof v !== 'string' || v.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) return undefined
  return fromBase64(v)
}

const DECIMAL = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/

/** What a decimal is read from: a number's shortest spelling, a long one as written, a string trimmed. */
function decimalText (v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : ''
  if (typeof v === 'bigint') return String(v)
  if (v instanceof JsonNumber) return v.text
  return typeof v === 'string' ? v.trim() : ''
}

/**
 * A decimal's unscaled integer (value × 10^scale) from a string (`"12.34"`, `"-1e3"`) or a JSON
 * number: as written when it has 16+ digits (bigint, JsonNumber), otherwise from its shortest
 * decimal spelling (`0.1` → `"0.1"`, the same digits); never through float arithmetic. undefined when not a number, when it has more fractional digits than `scale`
 * (other than trailing zeros), or more than `precision` digits.
 */
export function toDecimal (v: unknown, precision: number, scale: number): bigint | undefined {
  const m = DECIMAL.exec(decimalText(v))
  if (m === null || (m[2] === '' && (m[3] ?? '') === '')) return undefined
  const exp = Number(m[4] ?? 0)
  let digits = (m[2] + (m[3] ?? '')).replace(/^0+(?=\d)/, '')
  let shift = scale - (m[3] ?? '').length + exp // power of ten to apply to `digits`
  if (shift < 0) {
    const cut = digits.slice(digits.length + shift)
    if (/[^0]/.test(cut)) return undefined // would round
    digits = digits.slice(0, digits.length + shift) || '0'
    shift = 0
  }
  if (digits.replace(/^0+/, '').length + shift > precision) return undefined
  const u = BigInt(digits) * 10n ** BigInt(shift)
  return m[1] === '-' ? -u : u
}

/** Whether `v` spells a decimal number at all (a finite JSON number, or a string toDecimal reads), whatever its digits. */
export function isDecimalSpelling (v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v)
  if (typeof v === 'bigint' || v instanceof JsonNumber) return true
  const m = typeof v === 'string' ? DECIMAL.exec(v.trim()) : null
  return m !== null && !(m[2] === '' && (m[3] ?? '') === '')
}

const TIME = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/

/** time32/time64 in `unit` from `HH:MM[:SS[.fffffffff]]` (digits finer than the unit dropped) or an integer in the unit. */
export function toTime (v: unknown, unit: TimeUnit): bigint | undefined {
  v = plain(v)
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 && v < 86_400 * Number(PER_SECOND[unit]) ? BigInt(v) : undefined
  const m = typeof v === 'string' ? TIME.exec(v) : null
  if (m === null || +m[1] > 23 || +m[2] > 59 || +(m[3] ?? 0) > 59) return undefined
  const per = PER_SECOND[unit]
  const nanos = BigInt((m[4] ?? '').padEnd(9, '0'))
  return BigInt(+m[1] * 3600 + +m[2] * 60 + +(m[3] ?? 0)) * per + nanos / (1_000_000_000n / per)
}

/** duration in the schema's unit: an integer (number or decimal string) of that unit. */
export function toDuration (v: unknown): bigint | undefined {
  return toBigInt(v, true)
}

/** fixed_size_binary[width]: base64 of exactly `width` bytes. */
export function toFixedBytes (v: unknown, width: number): Uint8Array | undefined {
  const b = toBytes(v)
  return b !== undefined && b.byteLength === width ? b : undefined
}
