import {
  type Data, type DataType, type Decimal, Field, type FixedSizeBinary, type FixedSizeList, type Float, type Int, makeData, type RecordBatch,
  type Schema, type Time, type Timestamp, Type, vectorFromArray
} from 'apache-arrow'
import { DecimalPrecisionError, InvalidJsonError } from '../errors.ts'
import { batchOf } from './batch.ts'
import { formatType } from '../schema/types.ts'
import { describe, isDecimalSpelling, JsonNumber, toBigInt, toBytes, toDays, toDecimal, toDuration, toFixedBytes, toFloatOf, toTime, toTimestamp } from './json-values.ts'

/** Where value i sits, for messages: `line 3` and the field path `address.city`/`tags[2]`. */
type Loc = (i: number) => { at: string, path: string }
/** Stands for a child value under a null struct: Arrow needs a slot, JSON has none. */
const ABSENT = Symbol('absent')

function fail (loc: Loc, i: number, msg: string): never {
  const { at, path } = loc(i)
  throw new InvalidJsonError(`${at}: field "${path}": ${msg}`)
}

type Scalar = (v: unknown) => unknown
function intRange (t: Int): Scalar {
  const max = t.isSigned ? 2 ** (t.bitWidth - 1) - 1 : 2 ** t.bitWidth - 1
  const min = t.isSigned ? -(2 ** (t.bitWidth - 1)) : 0
  return v => {
    const x = v instanceof JsonNumber ? v.value : v
    return typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max ? x : undefined
  }
}

/** Converter into a typed-array slot for fixed-width types, or null for the other types. */
function scalarFor (t: DataType): Scalar | null {
  switch (t.typeId) {
    case Type.Int: {
      const it = t as Int
      return it.bitWidth === 64 ? v => toBigInt(v, it.isSigned) : intRange(it)
    }
    case Type.Float: return toFloatOf((t as Float).precision)
    case Type.Date: return toDays
    case Type.Timestamp: return v => toTimestamp(v, (t as Timestamp).unit)
    case Type.Time: {
      const { unit, bitWidth } = t as Time
      return bitWidth === 64 ? v => toTime(v, unit) : v => { const x = toTime(v, unit); return x === undefined ? undefined : Number(x) }
    }
    case Type.Duration: return toDuration
    default: return null
  }
}

function column (field: Field, values: unknown[], loc: Loc): Data {
  const { type, nullable } = field
  const n = values.length
  let nullBitmap: Uint8Array | undefined
  let nullCount = 0
  const valid = new Array<boolean>(n)
  for (let i = 0; i < n; i++) {
    const v = values[i]
    const isNull = v === null || v === undefined || (v === ABSENT && nullable)
    valid[i] = !isNull
    if (!isNull) continue
    if (!nullable) {
      if (v === undefined) throw new InvalidJsonError(`${loc(i).at}: missing non-nullable field "${loc(i).path}"`)
      fail(loc, i, 'null in a non-nullable field')
    }
    nullBitmap ??= new Uint8Array((n + 7) >> 3).fill(255)
    nullBitmap[i >> 3] &= ~(1 << (i & 7))
    nullCount++
  }
  const base = { type, length: n, nullCount, nullBitmap }
  const expected = (i: number): never => fail(loc, i, `expected ${formatType(type)}, got ${describe(values[i])}`)
  const convert = <T>(fn: (v: unknown) => T | undefined) => (i: number): T | undefined => {
    if (!valid[i] || values[i] === ABSENT) return undefined
    const x = fn(values[i])
    return x === undefined ? expected(i) : x
  }
  const scalar = scalarFor(type)
  if (type.typeId === Type.Float && (type as { precision: number }).precision === 0) {
    const conv = convert(toFloatOf(0))
    const nums = values.map((_, i) => conv(i) ?? (valid[i] ? 0 : null))
    return vectorFromArray(nums, type).data[0] // halffloat: rare, let apache-arrow do the rounding
  }
  if (scalar !== null) {
    const out = new (type.ArrayType as new (n: number) => { [i: number]: unknown })(n)
    const conv = convert(scalar)
    for (let i = 0; i < n; i++) { const x = conv(i); if (x !== undefined) out[i] = x }
    return makeData({ ...base, data: out } as never)
  }
  switch (type.typeId) {
    case Type.Bool: {
      const bits = new Uint8Array((n + 7) >> 3)
      const conv = convert(v => typeof v === 'boolean' ? v : undefined)
      for (let i = 0; i < n; i++) if (conv(i) === true) bits[i >> 3] |= 1 << (i & 7)
      return makeData({ ...base, data: bits } as never)
    }
    case Type.Utf8: case Type.LargeUtf8: case Type.Binary: case Type.LargeBinary: {
      const text = type.typeId === Type.Utf8 || type.typeId === Type.LargeUtf8
      const conv = convert<string | Uint8Array>(text ? v => typeof v === 'string' ? v : undefined : toBytes)
      const parts = values.map((_, i) => conv(i))
      const sizes = parts.map(p => p === undefined ? 0 : typeof p === 'string' ? Buffer.byteLength(p) : p.byteLength)
      const total = sizes.reduce((s, k) => s + k, 0)
      const large = type.typeId === Type.LargeUtf8 || type.typeId === Type.LargeBinary
      const offsets = large ? new BigInt64Array(n + 1) : new Int32Array(n + 1)
      const bytes = new Uint8Array(total)
      // Strings are encoded straight into the column: a 200 MiB value is not encoded, then copied.
      const out = Buffer.from(bytes.buffer, bytes.byteOffset, total)
      let at = 0
      for (let i = 0; i < n; i++) {
        const p = parts[i]
        if (typeof p === 'string') out.write(p, at, sizes[i])
        else if (p !== undefined) out.set(p, at)
        at += sizes[i]
        offsets[i + 1] = large ? BigInt(at) : at
      }
      return makeData({ ...base, valueOffsets: offsets, data: bytes } as never)
    }
    case Type.Decimal: {
      const { precision, scale, bitWidth } = type as Decimal
      const stride = bitWidth / 32
      const words = new Uint32Array(n * stride)
      for (let i = 0; i < n; i++) {
        if (!valid[i] || values[i] === ABSENT) continue
        let x = toDecimal(values[i], precision, scale)
        if (x === undefined) {
          // A number the type cannot hold (too many digits, or decimal places it would round) is
          // 422, as for Arrow bodies (decimal-range.ts); anything else that is not a decimal is 400.
          if (!isDecimalSpelling(values[i])) expected(i)
          const { at, path } = loc(i)
          throw new DecimalPrecisionError(`${at}: field "${path}": value ${values[i] instanceof JsonNumber ? (values[i] as JsonNumber).text : String(values[i]).trim()} has more than ${precision} digits or ${scale} decimal places (declared decimal${bitWidth}(${precision}, ${scale}))`)
        }
        for (let w = 0; w < stride; w++, x >>= 32n) words[i * stride + w] = Number(BigInt.asUintN(32, x))
      }
      return makeData({ ...base, data: words } as never)
    }
    case Type.FixedSizeBinary: {
      const width = (type as FixedSizeBinary).byteWidth
      const bytes = new Uint8Array(n * width)
      const conv = convert(v => toFixedBytes(v, width))
      for (let i = 0; i < n; i++) { const b = conv(i); if (b !== undefined) bytes.set(b, i * width) }
      return makeData({ ...base, data: bytes } as never)
    }
    case Type.FixedSizeList: {
      const size = (type as FixedSizeList).listSize
      const conv = convert(v => Array.isArray(v) && v.length === size ? v : undefined)
      const child = (type.children as Field[])[0]
      const items: unknown[] = []
      for (let i = 0; i < n; i++) {
        const arr = conv(i)
        // a null row still has `size` child slots (null, whatever the child's nullability)
        for (let k = 0; k < size; k++) items.push(arr === undefined ? ABSENT : arr[k])
      }
      const childLoc: Loc = j => { const p = loc(Math.floor(j / size)); return { at: p.at, path: `${p.path}[${j % size}]` } }
      return makeData({ ...base, child: column(new Field(child.name, child.type, true), items, childLoc) } as never)
    }
    case Type.Map: {
      // an object (string keys) or an array of [key, value] pairs
      const pairsOf = (v: unknown): Array<[unknown, unknown]> | undefined => {
        if (Array.isArray(v)) return v.every(p => Array.isArray(p) && p.length === 2) ? v as Array<[unknown, unknown]> : undefined
        return typeof v === 'object' && v !== null && !(v instanceof JsonNumber) ? Object.entries(v) : undefined
      }
      const conv = convert(pairsOf)
      const entries = (type.children as Field[])[0]
      const [kf, vf] = entries.type.children as Field[]
      const offsets = new Int32Array(n + 1)
      const keys: unknown[] = []
      const vals: unknown[] = []
      const rowOf: number[] = []
      for (let i = 0; i < n; i++) {
        for (const [k, v] of conv(i) ?? []) { keys.push(k); vals.push(v); rowOf.push(i) }
        offsets[i + 1] = keys.length
      }
      const at = (what: string): Loc => j => { const p = loc(rowOf[j]); return { at: p.at, path: `${p.path}.${what}` } }
      const kids = [column(kf, keys, at('key')), column(vf, vals, at('value'))]
      const struct = makeData({ type: entries.type, length: keys.length, nullCount: 0, children: kids })
      return makeData({ ...base, valueOffsets: offsets, child: struct } as never)
    }
    case Type.List: case Type.LargeList: {
      const conv = convert(v => Array.isArray(v) ? v : undefined)
      const child = (type.children as Field[])[0]
      const large = type.typeId === Type.LargeList
      const offsets = large ? new BigInt64Array(n + 1) : new Int32Array(n + 1)
      const items: unknown[] = []
      const rowOf: number[] = []
      const idx: number[] = []
      for (let i = 0; i < n; i++) {
        const arr = conv(i)
        if (arr !== undefined) arr.forEach((x, k) => { items.push(x); rowOf.push(i); idx.push(k) })
        offsets[i + 1] = large ? BigInt(items.length) : items.length
      }
      const childLoc: Loc = j => { const p = loc(rowOf[j]); return { at: p.at, path: `${p.path}[${idx[j]}]` } }
      return makeData({ ...base, valueOffsets: offsets, child: column(child, items, childLoc) } as never)
    }
    case Type.Struct: {
      const isObj = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber) ? v as Record<string, unknown> : undefined
      const conv = convert(isObj)
      const objs = values.map((_, i) => conv(i))
      return makeData({ ...base, children: structChildren(type.children as Field[], objs, loc) } as never)
    }
    default:
      throw new InvalidJsonError(`field "${loc(0).path}": type ${formatType(type)} cannot be read from JSON`)
  }
}

function structChildren (fields: Field[], objs: Array<Record<string, unknown> | undefined>, loc: Loc): Data[] {
  const known = new Set(fields.map(f => f.name))
  objs.forEach((o, i) => {
    for (const k in o) {
      if (known.has(k)) continue
      const { at, path } = loc(i)
      throw new InvalidJsonError(`${at}: unknown field "${path === '' ? k : `${path}.${k}`}"`)
    }
  })
  return fields.map(f => column(f, objs.map(o => o === undefined ? ABSENT : o[f.name]), i => {
    const p = loc(i)
    return { at: p.at, path: p.path === '' ? f.name : `${p.path}.${f.name}` }
  }))
}

export interface RowsOptions {
  /** Label for row i in messages; default `row ${i}` (0-based array index). NDJSON passes `line N`. */
  label?: (i: number) => string
}

/**
 * Converts JSON rows (objects) into one RecordBatch with exactly `schema` (the topic's Arrow
 * schema). Strict: a missing or null non-nullable field, an unknown field or a value of the wrong
 * kind throws InvalidJsonError naming the row and field, e.g.
 * `line 3: field "price": expected double, got "abc"`. Conversions: int64/uint64 from safe
 * integers or decimal strings; float/double from numbers or "NaN"/"Infinity"; decimals from
 * strings or numbers (their shortest spelling, never float arithmetic; more fractional digits
 * than the scale or more digits than the precision are refused); timestamps from ISO 8601
 * strings (no offset = UTC) or numbers of epoch **milliseconds**; times from `HH:MM:SS.ffffff`
 * or integers of the unit; durations from integers of the unit; dates from `YYYY-MM-DD`;
 * binary from base64 (fixed_size_binary: exactly its width); lists and fixed-size lists from
 * arrays; maps from objects or `[[key, value], …]`; structs from objects. No rows → [].
 */
export function rowsToBatches (rows: unknown[], schema: Schema, opts: RowsOptions = {}): RecordBatch[] {
  if (rows.length === 0) return []
  const label = opts.label ?? ((i: number) => `row ${i}`)
  const objs = rows.map((r, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r) || r instanceof JsonNumber) throw new InvalidJsonError(`${label(i)}: expected a JSON object, got ${describe(r)}`)
    return r as Record<string, unknown>
  })
  const children = structChildren(schema.fields, objs, i => ({ at: label(i), path: '' }))
  return [batchOf(schema, children, rows.length)]
}
