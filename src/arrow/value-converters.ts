import { type DataType, type Float, type Int, type Timestamp, Type } from 'apache-arrow'
import { describe, ISO, toBigInt, toBytes, toDays, toFloatOf, toTimestamp } from './json-values.ts'

// One value → the slot value of an Arrow column of a given type, with the gateway's JSON rules
// (json-values.ts), so a file converted in the browser console behaves as it would POSTed as
// NDJSON. The console loads this module as a browser build (src/console/build.mjs).

export { describe, ISO }

/** Converts one value; undefined when it does not fit the type (the caller names row and field). */
export type Converter = (v: unknown) => unknown

/** Spellings of non-finite floats a CSV cell may hold (JSON's NaN/Infinity strings, and inf). */
export const FLOAT_WORDS: Record<string, number> = { NaN, Infinity, '-Infinity': -Infinity, inf: Infinity, '-inf': -Infinity }
/** A decimal number as CSV text: `12`, `-1.5`, `.5`, `1e-3`. */
export const FLOAT_TEXT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/
const INT_TEXT = /^[-+]?\d{1,20}$/
const TRUE = new Set(['true', 't', 'yes', 'y', '1'])
const FALSE = new Set(['false', 'f', 'no', 'n', '0'])

/** int8…int32, uint8…uint32: a JSON integer in range (as NDJSON); CSV text is read as one first. */
function narrowInt (t: Int, text: boolean): Converter {
  const max = t.isSigned ? 2 ** (t.bitWidth - 1) - 1 : 2 ** t.bitWidth - 1
  const min = t.isSigned ? -(2 ** (t.bitWidth - 1)) : 0
  return (raw) => {
    const v = text && typeof raw === 'string' && INT_TEXT.test(raw) ? Number(raw) : raw
    return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined
  }
}

function floatText (v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined
  if (Object.hasOwn(FLOAT_WORDS, v)) return FLOAT_WORDS[v]
  return FLOAT_TEXT.test(v) ? Number(v) : undefined
}

function boolText (v: unknown): boolean | undefined {
  const s = typeof v === 'string' ? v.toLowerCase() : ''
  return TRUE.has(s) ? true : FALSE.has(s) ? false : undefined
}

/**
 * The converter for `type`, or null for a type the console does not build. `text` is true for
 * CSV cells (every value a string): numbers, booleans and epoch milliseconds are then read from
 * their text; otherwise a JSON value must be of the kind NDJSON needs.
 */
export function converterFor (type: DataType, text: boolean): Converter | null {
  switch (type.typeId) {
    case Type.Int: {
      const t = type as Int
      if (t.bitWidth === 64) return (v) => toBigInt(text && typeof v === 'string' ? v.replace(/^\+/, '') : v, t.isSigned)
      return narrowInt(t, text)
    }
    case Type.Float: {
      const fits = toFloatOf((type as Float).precision)
      return text ? (v) => { const x = floatText(v); return x === undefined ? undefined : fits(x) } : fits
    }
    case Type.Bool: return text ? boolText : (v) => (typeof v === 'boolean' ? v : undefined)
    case Type.Utf8: return (v) => (typeof v === 'string' ? v : undefined)
    case Type.Binary: return (v) => (v instanceof Uint8Array ? v : toBytes(v))
    case Type.Date: return toDays
    case Type.Timestamp: {
      const unit = (type as Timestamp).unit
      return text ? (v) => toTimestamp(typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v, unit) : (v) => toTimestamp(v, unit)
    }
    default: return null
  }
}
