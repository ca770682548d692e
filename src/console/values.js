// One value of a file → the slot value of an Arrow column, with the gateway's JSON rules
// (src/arrow/json-values.ts), so a file behaves the same uploaded here or POSTed as NDJSON.
// Converters return undefined when the value does not fit; the caller names row and field.
const A = globalThis.Arrow

/** Short description of a bad value for messages: `"abc"`, `12`, `object`. */
export function describe (v) {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'object') return 'object'
  if (typeof v === 'bigint') return String(v)
  const s = JSON.stringify(v)
  return s.length > 40 ? s.slice(0, 37) + '..."' : s
}

function toBigInt (v, bits, signed) {
  let b
  if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v)
  else if (typeof v === 'string' && /^[-+]?\d{1,20}$/.test(v)) b = BigInt(v)
  else if (typeof v === 'bigint') b = v
  else return undefined
  return (signed ? BigInt.asIntN(bits, b) : BigInt.asUintN(bits, b)) === b ? b : undefined
}

export const SPECIAL = { NaN, Infinity, '-Infinity': -Infinity, inf: Infinity, '-inf': -Infinity }
export const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/

function toFloat (v) {
  if (typeof v === 'number') return v
  if (typeof v === 'bigint') return Number(v)
  if (typeof v !== 'string') return undefined
  if (v in SPECIAL) return SPECIAL[v]
  return DECIMAL.test(v) ? Number(v) : undefined
}

const TRUE = new Set(['true', 't', 'yes', 'y', '1'])
const FALSE = new Set(['false', 'f', 'no', 'n', '0'])

function utcMs (y, mo, d, h, mi, s) {
  const date = new Date(0)
  date.setUTCFullYear(y, mo - 1, d) // not Date.UTC: it maps years 0–99 to 1900–1999
  date.setUTCHours(h, mi, s, 0)
  const ok = date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && h < 24 && mi < 60 && s < 60
  return ok ? date.getTime() : undefined
}

export const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i
const PER_SECOND = [1n, 1000n, 1_000_000n, 1_000_000_000n]

/** ISO 8601 (no offset = UTC, digits finer than the unit dropped) or epoch milliseconds. */
function toTimestamp (v, unit) {
  let r
  if (typeof v === 'number') {
    const scaled = unit === 0 ? Math.floor(v / 1000) : unit === 1 ? Math.floor(v) : Math.round(v * 1000)
    if (!Number.isFinite(scaled)) return undefined
    r = unit === 3 ? BigInt(scaled) * 1000n : BigInt(scaled)
  } else {
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
    const per = PER_SECOND[unit]
    r = BigInt((ms - offsetMin * 60_000) / 1000) * per + BigInt((m[7] ?? '').padEnd(9, '0')) / (1_000_000_000n / per)
  }
  return BigInt.asIntN(64, r) === r ? r : undefined
}

function toDays (v) {
  const m = typeof v === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(v) : null
  const ms = m && utcMs(+m[1], +m[2], +m[3], 0, 0, 0)
  return ms == null ? undefined : ms / 86_400_000
}

function toBytes (v) {
  if (v instanceof Uint8Array) return v
  if (typeof v !== 'string' || v.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) return undefined
  return Uint8Array.from(atob(v), (c) => c.charCodeAt(0))
}

/**
 * The converter for `type`. `text` is true for CSV cells (every value a string): then numbers,
 * booleans and epoch milliseconds are read from their text; otherwise JSON kinds must match.
 */
export function converterFor (type, text) {
  switch (type.typeId) {
    case A.Type.Int: {
      if (type.bitWidth === 64) return (v) => toBigInt(v, 64, type.isSigned)
      return (v) => { const b = toBigInt(v, type.bitWidth, type.isSigned); return b === undefined ? undefined : Number(b) }
    }
    case A.Type.Float: return text ? toFloat : (v) => (typeof v === 'string' && !(v in SPECIAL) ? undefined : toFloat(v))
    case A.Type.Bool: return text ? (v) => (TRUE.has(v.toLowerCase()) ? true : FALSE.has(v.toLowerCase()) ? false : undefined) : (v) => (typeof v === 'boolean' ? v : undefined)
    case A.Type.Utf8: return (v) => (typeof v === 'string' ? v : undefined)
    case A.Type.Binary: return toBytes
    case A.Type.Date: return toDays
    case A.Type.Timestamp: return text ? (v) => toTimestamp(/^-?\d+$/.test(v) ? Number(v) : v, type.unit) : (v) => toTimestamp(v, type.unit)
    default: return null
  }
}
