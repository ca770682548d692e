import {
  type Data, type DataType, type Date_, DateUnit, type Decimal, type Dictionary, type Field, type FixedSizeList, type Float, type Int,
  makeData, Precision, type Time, type Timestamp, Type, util, vectorFromArray
} from 'apache-arrow'
import { decodeDictionary } from './dictionary.ts'
import { SchemaMismatchError } from '../errors.ts'

/*
 * Lossless conversions: a column whose type differs from the topic's only in encoding or width is
 * converted when no value can change. `convertible` decides on types; `convertData` rewrites
 * the buffers (copying only what changes) and always recomputes null counts from the validity
 * bitmap: producers' counts are not trusted (flechette writes a fixed-size-list child whose
 * count disagrees with its bitmap).
 */

const STRINGS = new Set<Type>([Type.Utf8, Type.LargeUtf8, Type.Utf8View])
const BINARIES = new Set<Type>([Type.Binary, Type.LargeBinary, Type.BinaryView])
/** Variable-size list types (their offsets differ in width, their values do not). */
export const LISTS = new Set<Type>([Type.List, Type.LargeList])

/** A nested type's child fields ([] for a flat type). */
export function kids (t: DataType): Field[] { return (t.children ?? []) as Field[] }

/** Whether every value of type `from` can be stored as `to` unchanged. */
export function convertible (to: DataType, from: DataType): boolean {
  if (from.typeId === Type.Dictionary) return convertible(to, (from as Dictionary).dictionary)
  if (STRINGS.has(to.typeId)) return STRINGS.has(from.typeId)
  if (BINARIES.has(to.typeId)) return BINARIES.has(from.typeId)
  if (LISTS.has(to.typeId)) return LISTS.has(from.typeId) && convertible(kids(to)[0].type, kids(from)[0].type)
  if (to.typeId !== from.typeId) return false
  switch (to.typeId) {
    case Type.Int: {
      const a = to as Int
      const b = from as Int
      return a.isSigned ? b.bitWidth < a.bitWidth || (b.isSigned && b.bitWidth === a.bitWidth) : !b.isSigned && b.bitWidth <= a.bitWidth
    }
    case Type.Float: return (from as Float).precision <= (to as Float).precision
    case Type.Timestamp: return (from as Timestamp).unit <= (to as Timestamp).unit && ((from as Timestamp).timezone ?? null) === ((to as Timestamp).timezone ?? null)
    case Type.Time: case Type.Duration: return (from as Time).unit <= (to as Time).unit
    case Type.Date: return (to as Date_).unit === DateUnit.DAY || (from as Date_).unit === DateUnit.MILLISECOND
    case Type.Decimal: {
      const a = to as unknown as { scale: number, precision: number, bitWidth: number }
      const b = from as unknown as { scale: number, precision: number, bitWidth: number }
      // any width: a value's digits are bounded by its precision (checked on decode), so it fits
      return a.scale === b.scale && b.precision <= a.precision
    }
    case Type.FixedSizeBinary: return (to as unknown as { byteWidth: number }).byteWidth === (from as unknown as { byteWidth: number }).byteWidth
    case Type.FixedSizeList: return (to as FixedSizeList).listSize === (from as FixedSizeList).listSize && convertible(kids(to)[0].type, kids(from)[0].type)
    case Type.Map: {
      // the entries struct has fixed names (key, value): by position
      const a = kids(kids(to)[0].type)
      const b = kids(kids(from)[0].type)
      return a.length === b.length && a.every((f, i) => convertible(f.type, b[i].type))
    }
    case Type.Struct: {
      // by name, in any order; a nullable field the source lacks is filled with nulls (schema
      // evolution inside structs: a struct that gained a field still takes the old shape)
      const b = new Map(kids(from).map((f) => [f.name, f]))
      const a = kids(to)
      if (b.size !== kids(from).length) return false
      let found = 0
      for (const f of a) {
        const src = b.get(f.name)
        if (src === undefined) { if (!f.nullable) return false; continue }
        if (!convertible(f.type, src.type)) return false
        found++
      }
      return found === b.size
    }
    default: return true
  }
}

/** A column of `length` nulls: what a stream that omits a nullable field (or struct field) stores in it. */
export function nullData (type: DataType, length: number): Data {
  return vectorFromArray(new Array<null>(length).fill(null), type).data[0]
}

const validity = (d: Data): Uint8Array | undefined => (d.nullBitmap as Uint8Array | undefined)?.length ? d.nullBitmap as Uint8Array : undefined

/** `d` with type `to` and these buffers; the null count is left for apache-arrow to count from the bitmap. */
function rebuild (d: Data, to: DataType, buffers: { valueOffsets?: unknown, data?: unknown, child?: Data, children?: Data[] }): Data {
  const nullBitmap = validity(d)
  if (buffers.valueOffsets === undefined && buffers.data === undefined) {
    // same buffers: a clone costs no copy (the common case, run for every column of every batch)
    if (nullBitmap === undefined && d.nullCount === 0 && buffers.children === undefined && buffers.child === undefined && (d.type === to || !(to.children?.length > 0))) return d
    return d.clone(to, d.offset, d.length, nullBitmap === undefined ? 0 : -1, undefined, buffers.children ?? (buffers.child ? [buffers.child] : d.children))
  }
  return makeData({
    type: to,
    offset: d.offset,
    length: d.length,
    nullCount: nullBitmap === undefined ? 0 : -1,
    nullBitmap,
    valueOffsets: buffers.valueOffsets ?? d.valueOffsets,
    data: buffers.data ?? d.values,
    child: buffers.child,
    children: buffers.children ?? d.children
  } as unknown as Parameters<typeof makeData>[0])
}

const UNIT_FACTOR = [1n, 1000n, 1000000n, 1000000000n]
const INT64_MAX = (1n << 63n) - 1n

function scale64 (values: BigInt64Array, factor: bigint, field: string): BigInt64Array {
  const out = new BigInt64Array(values.length)
  const limit = INT64_MAX / factor
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v > limit || v < -limit) throw new SchemaMismatchError(`${field}: value ${v} does not fit the topic's finer unit`)
    out[i] = v * factor
  }
  return out
}

function offsets32 (off: BigInt64Array | Int32Array, field: string): Int32Array {
  if (off instanceof Int32Array) return off
  const last = off.length === 0 ? 0n : off[off.length - 1]
  if (last > 0x7fffffffn) throw new SchemaMismatchError(`${field}: more than 2 GiB of values do not fit a 32-bit-offset column`)
  return Int32Array.from(off, Number)
}

function offsets64 (off: BigInt64Array | Int32Array): BigInt64Array {
  return off instanceof BigInt64Array ? off : BigInt64Array.from(off, (v) => BigInt(v))
}

/** A view column (16-byte views + variadic buffers) as plain offsets + bytes. */
function fromViews (d: Data): { valueOffsets: Int32Array, data: Uint8Array } {
  const views = d.values as Uint8Array
  const dv = new DataView(views.buffer, views.byteOffset, views.byteLength)
  const buffers = (d as unknown as { variadicBuffers: Uint8Array[] }).variadicBuffers ?? []
  const n = d.offset + d.length
  const valueOffsets = new Int32Array(n + 1)
  let total = 0
  for (let i = 0; i < n; i++) { total += dv.getInt32(i * 16, true); valueOffsets[i + 1] = total }
  const data = new Uint8Array(total)
  for (let i = 0; i < n; i++) {
    const len = dv.getInt32(i * 16, true)
    if (len <= 12) data.set(views.subarray(i * 16 + 4, i * 16 + 4 + len), valueOffsets[i])
    else {
      const buf = buffers[dv.getInt32(i * 16 + 8, true)]
      const at = dv.getInt32(i * 16 + 12, true)
      data.set(buf.subarray(at, at + len), valueOffsets[i])
    }
  }
  return { valueOffsets, data }
}

/**
 * `d` (of a type `convertible` to `to`) as data of exactly `to`: buffers shared where nothing
 * changes, converted where width, unit or encoding differ. `field` names the column in errors.
 * @throws SchemaMismatchError when a value cannot be represented (a timestamp beyond int64 in the finer unit)
 */
export function convertData (d: Data, to: DataType, field: string): Data {
  if (d.typeId === Type.Dictionary) return convertData(decodeDictionary(d as Data<Dictionary>), to, field)
  const from = d.type
  switch (to.typeId) {
    case Type.Utf8: case Type.Binary: case Type.LargeUtf8: case Type.LargeBinary: {
      const plain = from.typeId === Type.Utf8View || from.typeId === Type.BinaryView ? fromViews(d) : { valueOffsets: d.valueOffsets as Int32Array | BigInt64Array, data: d.values }
      const large = to.typeId === Type.LargeUtf8 || to.typeId === Type.LargeBinary
      return rebuild(d, to, { valueOffsets: large ? offsets64(plain.valueOffsets) : offsets32(plain.valueOffsets, field), data: plain.data })
    }
    case Type.Utf8View: case Type.BinaryView: return rebuild(d, to, {})
    case Type.List: case Type.LargeList: {
      const off = d.valueOffsets as Int32Array | BigInt64Array
      const child = convertData(d.children[0], kids(to)[0].type, `${field}.${kids(to)[0].name}`)
      return rebuild(d, to, { valueOffsets: to.typeId === Type.LargeList ? offsets64(off) : offsets32(off, field), child })
    }
    case Type.FixedSizeList: {
      const child = convertData(d.children[0], kids(to)[0].type, `${field}.${kids(to)[0].name}`)
      return rebuild(d, to, { children: [child], child })
    }
    case Type.Map: {
      // the entries struct by position (its names are fixed by the spec, not always by producers)
      const entries = d.children[0]
      const type = kids(to)[0].type
      const kv = entries.children.map((c, i) => convertData(c, kids(type)[i].type, `${field}.${kids(type)[i].name}`))
      const child = rebuild(entries, type, { children: kv })
      return rebuild(d, to, { children: [child], child })
    }
    case Type.Struct: return convertStruct(d, to, field)
    case Type.Int: {
      const a = to as Int
      if (a.bitWidth === (from as Int).bitWidth && a.isSigned === (from as Int).isSigned) return rebuild(d, to, {})
      const src = d.values as ArrayLike<number | bigint>
      const Ctor = a.ArrayType as unknown as { from: (s: ArrayLike<number | bigint>, f: (v: number | bigint) => number | bigint) => unknown }
      return rebuild(d, to, { data: Ctor.from(src, a.bitWidth === 64 ? (v) => BigInt(v) : Number) })
    }
    case Type.Float: {
      const p = (from as Float).precision
      if (p === (to as Float).precision) return rebuild(d, to, {})
      const src = d.values as Uint16Array | Float32Array
      const conv = p === Precision.HALF ? (v: number) => util.uint16ToFloat64(v) : (v: number) => v
      return rebuild(d, to, { data: (to as Float).precision === Precision.SINGLE ? Float32Array.from(src, conv) : Float64Array.from(src, conv) })
    }
    case Type.Timestamp: case Type.Duration: {
      const k = (to as Timestamp).unit - (from as Timestamp).unit
      return k === 0 ? rebuild(d, to, {}) : rebuild(d, to, { data: scale64(d.values as BigInt64Array, UNIT_FACTOR[k], field) })
    }
    case Type.Time: {
      const a = to as Time
      const b = from as Time
      if (a.unit === b.unit && a.bitWidth === b.bitWidth) return rebuild(d, to, {})
      const f = UNIT_FACTOR[a.unit - b.unit]
      const src = d.values as Int32Array | BigInt64Array
      return rebuild(d, to, { data: a.bitWidth === 32 ? Int32Array.from(src as Int32Array, (v) => v * Number(f)) : BigInt64Array.from(src as ArrayLike<number | bigint>, (v) => BigInt(v) * f) })
    }
    case Type.Date: {
      if ((to as Date_).unit === (from as Date_).unit) return rebuild(d, to, {})
      // date64 → date32: whole days by the Arrow spec (floor for any producer that strays)
      const src = d.values as BigInt64Array | Int32Array
      return rebuild(d, to, { data: Int32Array.from(src as ArrayLike<number | bigint>, (v) => Math.floor(Number(v) / 86_400_000)) })
    }
    case Type.Decimal: {
      const a = (to as Decimal).bitWidth / 32
      const b = (from as Decimal).bitWidth / 32
      return a === b ? rebuild(d, to, {}) : rebuild(d, to, { data: resizeDecimals(d.values as Uint32Array, d.offset + d.length, b, a) })
    }
    default: return rebuild(d, to, {})
  }
}

/** A struct's fields by name; a missing (nullable) one is nulls. Children of a struct are sliced with it: d.length rows. */
function convertStruct (d: Data, to: DataType, field: string): Data {
  const from = kids(d.type)
  let at: Map<string, number> | undefined // built only when the order differs (linear either way)
  const children = kids(to).map((f, k) => {
    const i = from[k]?.name === f.name ? k : (at ??= new Map(from.map((g, j) => [g.name, j]))).get(f.name)
    return i === undefined ? nullData(f.type, d.length) : convertData(d.children[i], f.type, `${field}.${f.name}`)
  })
  return rebuild(d, to, { children })
}

/** Two's-complement decimals of `from` 32-bit words each as `to` words: sign-extended or cut (the value fits: precision checked). */
function resizeDecimals (src: Uint32Array, n: number, from: number, to: number): Uint32Array {
  const out = new Uint32Array(n * to)
  for (let i = 0; i < n; i++) {
    const sign = (src[i * from + from - 1] & 0x80000000) !== 0 ? 0xffffffff : 0
    for (let w = 0; w < to; w++) out[i * to + w] = w < from ? src[i * from + w] : sign
  }
  return out
}
