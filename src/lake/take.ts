import { type Data, type DataType, makeData, RecordBatch, Struct, Type } from 'apache-arrow'

type Typed = Uint8Array | Int32Array | BigInt64Array | ArrayLike<number> & { constructor: new (n: number) => Typed, [i: number]: number | bigint }

/** Bits `at(i)` for i in [0, n), packed LSB first as Arrow bitmaps are; with the count of zeros. */
function gatherBits (src: Uint8Array, base: number, idx: Int32Array): { bits: Uint8Array, zeros: number } {
  const n = idx.length
  const bits = new Uint8Array(((n + 63) & ~63) >> 3)
  let zeros = 0
  for (let i = 0; i < n; i++) {
    const j = base + idx[i]
    if ((src[j >> 3] >> (j & 7)) & 1) bits[i >> 3] |= 1 << (i & 7)
    else zeros++
  }
  return { bits, zeros }
}

function validity (d: Data, idx: Int32Array): { nullBitmap?: Uint8Array, nullCount: number } {
  if (d.nullCount === 0 || !d.nullBitmap || d.nullBitmap.length === 0) return { nullCount: 0 }
  const { bits, zeros } = gatherBits(d.nullBitmap, d.offset, idx)
  return zeros === 0 ? { nullCount: 0 } : { nullBitmap: bits, nullCount: zeros }
}

/** Child positions [start, end) of every taken row of a list-like column, concatenated. */
function childRanges (offsets: ArrayLike<number | bigint>, idx: Int32Array): { out: Int32Array | BigInt64Array, childIdx: Int32Array } {
  const n = idx.length
  const big = offsets instanceof BigInt64Array
  const out = big ? new BigInt64Array(n + 1) : new Int32Array(n + 1)
  let total = 0
  for (let i = 0; i < n; i++) {
    total += Number(offsets[idx[i] + 1]) - Number(offsets[idx[i]])
    out[i + 1] = (big ? BigInt(total) : total) as never
  }
  const childIdx = new Int32Array(total)
  let k = 0
  for (let i = 0; i < n; i++) {
    for (let j = Number(offsets[idx[i]]), e = Number(offsets[idx[i] + 1]); j < e; j++) childIdx[k++] = j
  }
  return { out, childIdx }
}

/**
 * Rows `idx` of one column, as new Arrow data (apache-arrow has no take kernel). Covers every type
 * a topic can hold; anything else throws and the caller keeps zero-copy slices instead.
 * Offsets follow apache-arrow's slicing: validity and bool bits are shifted by `offset`, value
 * buffers and offsets are already sliced, list children are not.
 */
export function takeData (d: Data, idx: Int32Array): Data {
  const type = d.type as DataType
  const n = idx.length
  const v = validity(d, idx)
  switch (type.typeId) {
    case Type.Null: return makeData({ type, length: n, nullCount: n } as never)
    case Type.Bool: return makeData({ type, length: n, ...v, data: gatherBits(d.values as Uint8Array, d.offset, idx).bits } as never)
    case Type.Int: case Type.Float: case Type.Date: case Type.Timestamp: case Type.Time:
    case Type.Decimal: case Type.Interval: case Type.Duration: case Type.FixedSizeBinary: case Type.Dictionary: {
      const src = d.values as Typed
      const s = d.stride
      const out = new (src.constructor as new (n: number) => Typed)(n * s)
      if (s === 1) for (let i = 0; i < n; i++) out[i] = src[idx[i]]
      else for (let i = 0; i < n; i++) for (let k = 0; k < s; k++) out[i * s + k] = src[idx[i] * s + k]
      return makeData({ type, length: n, ...v, data: out, dictionary: d.dictionary } as never)
    }
    case Type.Utf8: case Type.Binary: case Type.LargeUtf8: case Type.LargeBinary: {
      const { out, childIdx } = childRanges(d.valueOffsets as ArrayLike<number | bigint>, idx)
      const src = d.values as Uint8Array
      const bytes = new Uint8Array(childIdx.length)
      let k = 0
      for (let i = 0; i < n; i++) {
        const a = Number((d.valueOffsets as ArrayLike<number | bigint>)[idx[i]])
        const b = Number((d.valueOffsets as ArrayLike<number | bigint>)[idx[i] + 1])
        bytes.set(src.subarray(a, b), k)
        k += b - a
      }
      return makeData({ type, length: n, ...v, valueOffsets: out, data: bytes } as never)
    }
    case Type.List: case Type.Map: {
      const { out, childIdx } = childRanges(d.valueOffsets as Int32Array, idx)
      return makeData({ type, length: n, ...v, valueOffsets: out, child: takeData(d.children[0], childIdx) } as never)
    }
    case Type.FixedSizeList: {
      const size = (type as unknown as { listSize: number }).listSize
      const childIdx = new Int32Array(n * size)
      for (let i = 0; i < n; i++) for (let k = 0; k < size; k++) childIdx[i * size + k] = idx[i] * size + k
      return makeData({ type, length: n, ...v, child: takeData(d.children[0], childIdx) } as never)
    }
    case Type.Struct:
      return makeData({ type, length: n, ...v, children: d.children.map((c) => takeData(c, idx)) } as never)
    default:
      throw new TypeError(`take: unsupported type ${String(type)}`)
  }
}

/** Rows `idx` of a batch (schema kept). */
export function takeBatch (batch: RecordBatch, idx: Int32Array): RecordBatch {
  const children = batch.data.children.map((c) => takeData(c, idx))
  return new RecordBatch(batch.schema, makeData({ type: new Struct(batch.schema.fields), length: idx.length, nullCount: 0, children }))
}
