import {
  type Data, type DataType, type Date_, DateUnit, type Decimal, type Dictionary, type Field, type FixedSizeList, type Float, type Int,
  makeData, Precision, type Time, type Timestamp, Type, util, vectorFromArray, type Vector
} from 'apache-arrow'
import { decodeDictionary } from './dictionary.ts'
import { runSteps, STEP_BYTES, STEP_ROWS, type Steps } from './steps.ts'
import { int64Words, isSafeInt64, readInt64, writeInt64 } from './int64-words.ts'
import { InvalidArrowError, SchemaMismatchError } from '../errors.ts'

/*
 * Lossless conversions: a column whose type differs from the topic's only in encoding or width is
 * converted when no value can change. `convertible` decides on types; `convertData` rewrites
 * the buffers (copying only what changes) and always recomputes null counts from the validity
 * bitmap: producers' counts are not trusted (flechette writes a fixed-size-list child whose
 * count disagrees with its bitmap). The rewriting is written as steps (src/arrow/steps.ts) that
 * the ingest path paces: one 500,000-row batch must not hold the event loop while it converts.
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

/**
 * A column of `length` nulls: what a stream that omits a nullable field (or struct field) stores in it.
 * Flat types get zeroed buffers and an all-null bitmap at once; apache-arrow's builders took
 * ~0.4-0.8 s for 500,000 string nulls (nested types still go through them).
 */
export function nullData (type: DataType, length: number): Data {
  const nullBitmap = new Uint8Array((length + 7) >> 3)
  switch (type.typeId) {
    case Type.Bool: return makeData({ type, length, nullCount: length, nullBitmap, data: new Uint8Array((length + 7) >> 3) } as Parameters<typeof makeData>[0])
    case Type.Utf8: case Type.Binary: case Type.LargeUtf8: case Type.LargeBinary: {
      const large = type.typeId === Type.LargeUtf8 || type.typeId === Type.LargeBinary
      return makeData({ type, length, nullCount: length, nullBitmap, valueOffsets: large ? new BigInt64Array(length + 1) : new Int32Array(length + 1), data: new Uint8Array(0) } as unknown as Parameters<typeof makeData>[0])
    }
    case Type.Int: case Type.Float: case Type.Date: case Type.Timestamp: case Type.Time: case Type.Duration:
    case Type.Decimal: case Type.FixedSizeBinary: {
      // the stride apache-arrow reads these values with (words per value)
      const stride = makeData({ type, length: 0 } as Parameters<typeof makeData>[0]).stride
      const Ctor = (type as unknown as { ArrayType: new (n: number) => ArrayLike<unknown> }).ArrayType
      return makeData({ type, length, nullCount: length, nullBitmap, data: new Ctor(length * stride) } as Parameters<typeof makeData>[0])
    }
    default: return vectorFromArray(new Array<null>(length).fill(null), type).data[0]
  }
}

/**
 * Where converted columns' buffers come from: `bytes` bytes, contents unspecified (every byte is
 * written). The ingest path passes its request's BufferLease: memory already touched, where a
 * fresh 4 MiB column cost ~35 ms of page faults on the VM (src/arrow/free-list.ts).
 */
export type Alloc = (bytes: number) => Uint8Array
const fresh: Alloc = (n) => new Uint8Array(n)

interface TypedCtor<T> { new (n: number): T, new (b: ArrayBufferLike, at: number, n: number): T, BYTES_PER_ELEMENT: number }
function typed<T> (Ctor: TypedCtor<T>, n: number, alloc: Alloc): T {
  if (alloc === fresh) return new Ctor(n)
  const bytes = alloc(n * Ctor.BYTES_PER_ELEMENT)
  return bytes.byteOffset % Ctor.BYTES_PER_ELEMENT === 0 ? new Ctor(bytes.buffer, bytes.byteOffset, n) : new Ctor(n)
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

const MAX_SAFE = Number.MAX_SAFE_INTEGER
const INT64_MAX = (1n << 63n) - 1n
const UNIT_FACTOR = [1, 1000, 1000000, 1000000000]

/**
 * Integers times `factor` as int64. With `field`, a product beyond int64 is refused naming it;
 * without, it wraps as a BigInt64Array store does (time-of-day values never get there).
 */
function * scaleTo64 (src: BigInt64Array | Int32Array, factor: number, field: string | null, alloc: Alloc): Steps<BigInt64Array> {
  const n = src.length
  const out = typed(BigInt64Array, n, alloc)
  const dst = int64Words(out)
  const wide = src instanceof BigInt64Array ? int64Words(src) : null
  const f = BigInt(factor)
  const limit = INT64_MAX / f
  for (let at = 0; at < n; at += STEP_ROWS) {
    const end = Math.min(n, at + STEP_ROWS)
    for (let i = at; i < end; i++) {
      // computed in doubles when exact there (the product below 2^53), as BigInt otherwise
      const small = wide === null || isSafeInt64(wide, i)
      const r = small ? (wide === null ? (src as Int32Array)[i] : readInt64(wide, i)) * factor : Infinity
      if (r <= MAX_SAFE && r >= -MAX_SAFE) { writeInt64(dst, i, r); continue }
      const v = BigInt(src[i])
      if (field !== null && (v > limit || v < -limit)) throw new SchemaMismatchError(`${field}: value ${v} does not fit the topic's finer unit`)
      out[i] = v * f
    }
    if (end < n) yield
  }
  return out
}

/** 64-bit offsets as 32-bit ones; more than 2 GiB of values cannot be addressed by them. */
function * offsets32 (off: BigInt64Array | Int32Array, field: string, alloc: Alloc): Steps<Int32Array> {
  if (off instanceof Int32Array) return off
  const n = off.length
  const out = typed(Int32Array, n, alloc)
  const w = int64Words(off)
  for (let at = 0; at < n; at += STEP_ROWS) {
    const end = Math.min(n, at + STEP_ROWS)
    for (let i = at; i < end; i++) {
      const lo = w.lo[2 * i]
      if (w.hi[2 * i + 1] !== 0 || lo > 0x7fffffff) throw new SchemaMismatchError(`${field}: more than 2 GiB of values do not fit a 32-bit-offset column`)
      out[i] = lo
    }
    if (end < n) yield
  }
  return out
}

function * offsets64 (off: BigInt64Array | Int32Array, alloc: Alloc): Steps<BigInt64Array> {
  if (off instanceof BigInt64Array) return off
  const n = off.length
  const out = typed(BigInt64Array, n, alloc)
  const w = int64Words(out)
  for (let at = 0; at < n; at += STEP_ROWS) {
    const end = Math.min(n, at + STEP_ROWS)
    for (let i = at; i < end; i++) { w.lo[2 * i] = off[i]; w.hi[2 * i + 1] = off[i] >> 31 }
    if (end < n) yield
  }
  return out
}

/** A typed array copied into a wider one of its kind (values unchanged: `set` converts), slice by slice. */
function * widen<T extends { set: (a: ArrayLike<number>, at: number) => void }> (out: T, src: ArrayLike<number> & { subarray: (a: number, b: number) => ArrayLike<number> }): Steps<T> {
  for (let at = 0; at < src.length; at += STEP_ROWS) {
    out.set(src.subarray(at, at + STEP_ROWS), at)
    if (at + STEP_ROWS < src.length) yield
  }
  return out
}

/** Narrower integers as int64 / uint64: sign- or zero-extended words. */
function * extendTo64 (out: BigInt64Array | BigUint64Array, src: ArrayLike<number>): Steps<BigInt64Array | BigUint64Array> {
  const w = int64Words(out)
  for (let at = 0; at < src.length; at += STEP_ROWS) {
    const end = Math.min(src.length, at + STEP_ROWS)
    for (let i = at; i < end; i++) { const v = src[i]; w.lo[2 * i] = v; w.hi[2 * i + 1] = v < 0 ? -1 : 0 }
    if (end < src.length) yield
  }
  return out
}

/** `out[i] = fn(i)` for every index, slice by slice. */
function * fill<T extends { length: number, [i: number]: number }> (out: T, fn: (i: number) => number): Steps<T> {
  for (let at = 0; at < out.length; at += STEP_ROWS) {
    const end = Math.min(out.length, at + STEP_ROWS)
    for (let i = at; i < end; i++) out[i] = fn(i)
    if (end < out.length) yield
  }
  return out
}

/** Copies `len` bytes: a loop for short values (a subarray per value costs more than it copies). */
function copyBytes (to: Uint8Array, at: number, from: Uint8Array, start: number, len: number): void {
  if (len <= 32) for (let b = 0; b < len; b++) to[at + b] = from[start + b]
  else to.set(from.subarray(start, start + len), at)
}

/** A view column (16-byte views + variadic buffers) as plain offsets + bytes. */
function * fromViews (d: Data, alloc: Alloc): Steps<{ valueOffsets: Int32Array, data: Uint8Array }> {
  const views = d.values as Uint8Array
  const dv = new DataView(views.buffer, views.byteOffset, views.byteLength)
  const buffers = (d as unknown as { variadicBuffers: Uint8Array[] }).variadicBuffers ?? []
  const n = d.offset + d.length
  const valueOffsets = typed(Int32Array, n + 1, alloc)
  valueOffsets[0] = 0
  let total = 0
  for (let at = 0; at < n; at += STEP_ROWS) {
    const end = Math.min(n, at + STEP_ROWS)
    for (let i = at; i < end; i++) { total += dv.getInt32(i * 16, true); valueOffsets[i + 1] = total }
    if (end < n) yield
  }
  const data = alloc(total)
  for (let i = 0; i < n;) {
    const end = Math.min(n, i + STEP_ROWS)
    for (let copied = 0; i < end && copied < STEP_BYTES; i++) {
      const len = dv.getInt32(i * 16, true)
      copied += len
      if (len <= 12) copyBytes(data, valueOffsets[i], views, i * 16 + 4, len)
      else copyBytes(data, valueOffsets[i], buffers[dv.getInt32(i * 16 + 8, true)], dv.getInt32(i * 16 + 12, true), len)
    }
    if (i < n) yield
  }
  return { valueOffsets, data }
}

const BYTES_TYPES = new Set<Type>([Type.Utf8, Type.Binary, Type.LargeUtf8, Type.LargeBinary])
const isLarge = (t: DataType): boolean => t.typeId === Type.LargeUtf8 || t.typeId === Type.LargeBinary
const bit = (bitmap: Uint8Array, i: number): boolean => (bitmap[i >> 3] & (1 << (i & 7))) !== 0

/**
 * A dictionary of strings or binaries (any index width, 32- or 64-bit offsets: polars writes
 * dictionary<uint32, large_string>) gathered by index straight into a plain column of `to`,
 * in two passes over the rows (lengths, then bytes) and no intermediate column. A null index, or
 * an index naming a null dictionary value, is a null row. As everywhere in apache-arrow, a
 * sliced column's `offset` applies to its validity bitmap; its other buffers start at the slice.
 */
function * gatherDictionary (d: Data<Dictionary>, dict: Data, to: DataType, field: string, alloc: Alloc): Steps<Data> {
  const n = d.length
  const base = d.offset
  const idx = d.values as ArrayLike<number | bigint>
  const wideIdx = idx instanceof BigInt64Array || idx instanceof BigUint64Array
  const size = dict.length
  const dOff = dict.valueOffsets as Int32Array | BigInt64Array
  const dw = dOff instanceof Int32Array ? null : int64Words(dOff)
  const starts = dw === null ? dOff as Int32Array : yield * fill(new Float64Array(size + 1), (k) => readInt64(dw, k))
  const src = dict.values as Uint8Array
  const rowNulls = validity(d)
  const dictNulls = validity(dict)
  // the rows' own bitmap is reused when it lines up with the output (offset 0) and no dictionary value is null
  const reuse = dictNulls === undefined && (rowNulls === undefined || base === 0)
  const nullBitmap = reuse ? rowNulls : new Uint8Array((n + 7) >> 3)
  const large = isLarge(to)
  const offsets = large ? typed(BigInt64Array, n + 1, alloc) : typed(Int32Array, n + 1, alloc)
  const w = large ? int64Words(offsets as BigInt64Array) : null
  const o32 = offsets as Int32Array
  if (w !== null) writeInt64(w, 0, 0)
  else o32[0] = 0
  let total = 0
  for (let at = 0; at < n; at += STEP_ROWS) {
    const end = Math.min(n, at + STEP_ROWS)
    for (let i = at; i < end; i++) {
      const row = base + i
      let len = 0
      if (rowNulls === undefined || bit(rowNulls, row)) {
        const k = wideIdx ? Number(idx[i]) : idx[i] as number
        if (!(k >= 0 && k < size)) throw new InvalidArrowError(`dictionary index ${k} out of range (dictionary has ${size} values)`)
        if (dictNulls === undefined || bit(dictNulls, dict.offset + k)) {
          len = starts[k + 1] - starts[k]
          if (!reuse) nullBitmap![i >> 3] |= 1 << (i & 7)
        }
      }
      total += len
      if (w !== null) writeInt64(w, i + 1, total)
      else {
        if (total > 0x7fffffff) throw new SchemaMismatchError(`${field}: more than 2 GiB of values do not fit a 32-bit-offset column`)
        o32[i + 1] = total
      }
    }
    if (end < n) yield
  }
  const bytes = alloc(total)
  const startOf = (i: number): number => w === null ? o32[i] : readInt64(w, i)
  for (let i = 0; i < n;) {
    const end = Math.min(n, i + STEP_ROWS)
    for (let copied = 0; i < end && copied < STEP_BYTES; i++) {
      const at = startOf(i)
      const len = startOf(i + 1) - at
      if (len === 0) continue
      const k = wideIdx ? Number(idx[i]) : idx[i] as number
      copyBytes(bytes, at, src, starts[k], len)
      copied += len
    }
    if (i < n) yield
  }
  return makeData({ type: to, length: n, nullCount: nullBitmap === undefined ? 0 : -1, nullBitmap, valueOffsets: offsets, data: bytes } as unknown as Parameters<typeof makeData>[0])
}

/** A dictionary column as plain values of `to`: gathered directly for strings and binaries, through apache-arrow otherwise (rare). */
function * fromDictionary (d: Data<Dictionary>, to: DataType, field: string, alloc: Alloc): Steps<Data> {
  const chunks = (d.dictionary as Vector | undefined)?.data
  const single = chunks?.length === 1 ? chunks[0] : undefined
  if (single !== undefined && BYTES_TYPES.has(single.typeId) && BYTES_TYPES.has(to.typeId)) return yield * gatherDictionary(d, single, to, field, alloc)
  return yield * convertSteps(decodeDictionary(d), to, field, alloc)
}

/**
 * `d` (of a type `convertible` to `to`) as data of exactly `to`: buffers shared where nothing
 * changes, converted where width, unit or encoding differ. `field` names the column in errors.
 * @throws SchemaMismatchError when a value cannot be represented (a timestamp beyond int64 in the finer unit)
 */
export function convertData (d: Data, to: DataType, field: string): Data {
  return runSteps(convertSteps(d, to, field))
}

/** convertData as steps: yields between slices of rows (see src/arrow/steps.ts); new buffers from `alloc`. */
export function * convertSteps (d: Data, to: DataType, field: string, alloc: Alloc = fresh): Steps<Data> {
  if (d.typeId === Type.Dictionary) return yield * fromDictionary(d as Data<Dictionary>, to, field, alloc)
  const from = d.type
  switch (to.typeId) {
    case Type.Utf8: case Type.Binary: case Type.LargeUtf8: case Type.LargeBinary: {
      const plain = from.typeId === Type.Utf8View || from.typeId === Type.BinaryView ? yield * fromViews(d, alloc) : { valueOffsets: d.valueOffsets as Int32Array | BigInt64Array, data: d.values }
      return rebuild(d, to, { valueOffsets: isLarge(to) ? yield * offsets64(plain.valueOffsets, alloc) : yield * offsets32(plain.valueOffsets, field, alloc), data: plain.data })
    }
    case Type.Utf8View: case Type.BinaryView: return rebuild(d, to, {})
    case Type.List: case Type.LargeList: {
      const off = d.valueOffsets as Int32Array | BigInt64Array
      const child = yield * convertSteps(d.children[0], kids(to)[0].type, `${field}.${kids(to)[0].name}`, alloc)
      return rebuild(d, to, { valueOffsets: to.typeId === Type.LargeList ? yield * offsets64(off, alloc) : yield * offsets32(off, field, alloc), child })
    }
    case Type.FixedSizeList: {
      const child = yield * convertSteps(d.children[0], kids(to)[0].type, `${field}.${kids(to)[0].name}`, alloc)
      return rebuild(d, to, { children: [child], child })
    }
    case Type.Map: {
      // the entries struct by position (its names are fixed by the spec, not always by producers)
      const entries = d.children[0]
      const type = kids(to)[0].type
      const kv: Data[] = []
      for (const [i, c] of entries.children.entries()) kv.push(yield * convertSteps(c, kids(type)[i].type, `${field}.${kids(type)[i].name}`, alloc))
      const child = rebuild(entries, type, { children: kv })
      return rebuild(d, to, { children: [child], child })
    }
    case Type.Struct: return yield * convertStruct(d, to, field, alloc)
    case Type.Int: {
      const a = to as Int
      if (a.bitWidth === (from as Int).bitWidth && a.isSigned === (from as Int).isSigned) return rebuild(d, to, {})
      // convertible: only a narrower source, so never a 64-bit one here
      const src = d.values as Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array
      const out = typed(a.ArrayType as unknown as TypedCtor<Int32Array | BigInt64Array>, src.length, alloc)
      return rebuild(d, to, { data: out instanceof BigInt64Array || out instanceof BigUint64Array ? yield * extendTo64(out, src) : yield * widen(out, src) })
    }
    case Type.Float: {
      const p = (from as Float).precision
      if (p === (to as Float).precision) return rebuild(d, to, {})
      const src = d.values as Uint16Array | Float32Array
      const out = (to as Float).precision === Precision.SINGLE ? typed(Float32Array, src.length, alloc) : typed(Float64Array, src.length, alloc)
      return rebuild(d, to, { data: p === Precision.HALF ? yield * fill(out, (i) => util.uint16ToFloat64(src[i])) : yield * widen(out, src) })
    }
    case Type.Timestamp: case Type.Duration: {
      const k = (to as Timestamp).unit - (from as Timestamp).unit
      return k === 0 ? rebuild(d, to, {}) : rebuild(d, to, { data: yield * scaleTo64(d.values as BigInt64Array, UNIT_FACTOR[k], field, alloc) })
    }
    case Type.Time: {
      const a = to as Time
      const b = from as Time
      if (a.unit === b.unit && a.bitWidth === b.bitWidth) return rebuild(d, to, {})
      const f = UNIT_FACTOR[a.unit - b.unit]
      const src = d.values as Int32Array | BigInt64Array
      return rebuild(d, to, { data: a.bitWidth === 32 ? yield * fill(typed(Int32Array, src.length, alloc), (i) => (src as Int32Array)[i] * f) : yield * scaleTo64(src, f, null, alloc) })
    }
    case Type.Date: {
      if ((to as Date_).unit === (from as Date_).unit) return rebuild(d, to, {})
      // date64 → date32: whole days by the Arrow spec (floor for any producer that strays)
      const src = int64Words(d.values as BigInt64Array)
      return rebuild(d, to, { data: yield * fill(typed(Int32Array, (d.values as BigInt64Array).length, alloc), (i) => Math.floor(readInt64(src, i) / 86_400_000)) })
    }
    case Type.Decimal: {
      const a = (to as Decimal).bitWidth / 32
      const b = (from as Decimal).bitWidth / 32
      return a === b ? rebuild(d, to, {}) : rebuild(d, to, { data: yield * resizeDecimals(d.values as Uint32Array, d.offset + d.length, b, a, alloc) })
    }
    default: return rebuild(d, to, {})
  }
}

/** A struct's fields by name; a missing (nullable) one is nulls. Children of a struct are sliced with it: d.length rows. */
function * convertStruct (d: Data, to: DataType, field: string, alloc: Alloc): Steps<Data> {
  const from = kids(d.type)
  let at: Map<string, number> | undefined // built only when the order differs (linear either way)
  const children: Data[] = []
  for (const [k, f] of kids(to).entries()) {
    const i = from[k]?.name === f.name ? k : (at ??= new Map(from.map((g, j) => [g.name, j]))).get(f.name)
    children.push(i === undefined ? nullData(f.type, d.length) : yield * convertSteps(d.children[i], f.type, `${field}.${f.name}`, alloc))
  }
  return rebuild(d, to, { children })
}

/** Two's-complement decimals of `from` 32-bit words each as `to` words: sign-extended or cut (the value fits: precision checked). */
function * resizeDecimals (src: Uint32Array, n: number, from: number, to: number, alloc: Alloc): Steps<Uint32Array> {
  const out = typed(Uint32Array, n * to, alloc)
  for (let at = 0; at < n; at += STEP_ROWS) {
    const end = Math.min(n, at + STEP_ROWS)
    for (let i = at; i < end; i++) {
      const sign = (src[i * from + from - 1] & 0x80000000) !== 0 ? 0xffffffff : 0
      for (let w = 0; w < to; w++) out[i * to + w] = w < from ? src[i * from + w] : sign
    }
    if (end < n) yield
  }
  return out
}
