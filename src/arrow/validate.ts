import { isUtf8 } from 'node:buffer'
import { type Data, type Decimal, type Field, type RecordBatch, type Schema, Type, type Vector } from 'apache-arrow'
import { InvalidArrowError } from '../errors.ts'
import { checkDecimalRange } from './decimal-range.ts'
import { checkStoredRange } from './stored-range.ts'
import { int64Words, readInt64 } from './int64-words.ts'
import { MAX_TYPE_DEPTH } from '../schema/types.ts'
import { schemaLimits, tooManyFields } from '../schema/limits.ts'

/** Counts fields at every depth (bounded: stops past the limit) and checks the nesting depth. */
function walk (f: Field, depth: number, path: string, count: { n: number }): void {
  if (depth > MAX_TYPE_DEPTH) throw new InvalidArrowError(`field "${path}" is nested deeper than ${MAX_TYPE_DEPTH} levels`)
  if (++count.n > schemaLimits.maxFields) throw new InvalidArrowError(tooManyFields(count.n, false))
  const kids = (f.type.typeId === Type.Dictionary ? f.type.dictionary.children : f.type.children) as Field[] | null
  for (const c of kids ?? []) walk(c, depth + 1, `${path}.${c.name}`, count)
}

/**
 * Rejects schemas no topic could hold and that would cost too much to look at: no fields, more
 * than MAX_SCHEMA_FIELDS fields counted at every depth, nesting deeper than 32.
 */
export function checkSchema (schema: Schema): void {
  if (schema.fields.length === 0) throw new InvalidArrowError('the schema has no fields')
  if (schema.fields.length > schemaLimits.maxFields) throw new InvalidArrowError(tooManyFields(schema.fields.length))
  const count = { n: 0 }
  for (const f of schema.fields) walk(f, 1, f.name, count)
}

/**
 * apache-arrow builds columns from whatever the batch header says, so a lying header (more rows
 * than the buffers hold, offsets past the end) would only fail later, in the encoder. Check that
 * every buffer covers the rows it claims, recursively.
 */
function checkData (d: Data, path: string): void {
  const bad = (why: string): never => { throw new InvalidArrowError(`column "${path}": ${why}`) }
  const end = d.offset + d.length
  if (d.offset < 0 || d.length < 0) bad('negative length')
  if (d.nullCount > d.length) bad(`null count ${d.nullCount} exceeds ${d.length} rows`)
  const nulls = d.nullBitmap as Uint8Array | undefined
  if (nulls !== undefined && nulls.length > 0 && nulls.length * 8 < end) bad(`validity bitmap too short for ${d.length} rows`)
  const t = d.type
  switch (t.typeId) {
    case Type.Bool:
      if (d.values.length * 8 < end) bad(`values too short for ${d.length} rows`)
      break
    case Type.Int: case Type.Float: case Type.Date: case Type.Timestamp: case Type.Time:
    case Type.Duration: case Type.Decimal: case Type.FixedSizeBinary: case Type.Interval:
      if (d.values.length < end * d.stride) bad(`values too short for ${d.length} rows`)
      if (t.typeId === Type.Decimal) checkDecimalRange(d as Data<Decimal>, path)
      else checkStoredRange(d, path)
      break
    case Type.Utf8: case Type.LargeUtf8: {
      checkOffsets(d, d.values.length, bad)
      const off = d.valueOffsets as Int32Array | BigInt64Array
      const values = d.values as Uint8Array
      if (!isUtf8(values.subarray(Number(off[d.offset]), Number(off[end])))) bad('strings are not valid UTF-8')
      break
    }
    case Type.Binary: case Type.LargeBinary:
      checkOffsets(d, d.values.length, bad)
      break
    case Type.List: case Type.LargeList: case Type.Map:
      checkOffsets(d, d.children[0].length, bad)
      checkData(d.children[0], `${path}.${(t.children[0] as Field).name}`)
      break
    case Type.FixedSizeList: {
      const size = (t as unknown as { listSize: number }).listSize
      if (d.children[0].length < end * size) bad(`list values too short for ${d.length} rows of ${size}`)
      checkData(d.children[0], `${path}.${(t.children[0] as Field).name}`)
      break
    }
    case Type.Utf8View: case Type.BinaryView:
      checkViews(d, t.typeId === Type.Utf8View, bad)
      break
    case Type.Struct:
      d.children.forEach((c, i) => {
        if (c.length < end) bad(`child "${(t.children[i] as Field).name}" is shorter than the struct`)
        checkData(c, `${path}.${(t.children[i] as Field).name}`)
      })
      break
    case Type.Dictionary:
      if (d.values.length < end) bad(`indices too short for ${d.length} rows`)
      for (const chunk of (d.dictionary as Vector | undefined)?.data ?? []) checkData(chunk, `${path} (dictionary)`)
      checkIndices(d, bad)
      break
  }
}

/**
 * Every index of a valid row must name a dictionary value. apache-arrow answers null for an index
 * past a dictionary made of several chunks (after a delta), which would store a null the producer
 * never sent.
 */
function checkIndices (d: Data, bad: (why: string) => never): void {
  const size = (d.dictionary as Vector | undefined)?.length ?? 0
  const idx = d.values as ArrayLike<number | bigint>
  const wide = idx instanceof BigInt64Array || idx instanceof BigUint64Array
  const nulls = d.nullCount > 0 ? d.nullBitmap as Uint8Array | undefined : undefined
  for (let i = d.offset; i < d.offset + d.length; i++) {
    if (nulls !== undefined && nulls.length > 0 && (nulls[i >> 3] & (1 << (i & 7))) === 0) continue
    const k = wide ? Number(idx[i]) : idx[i] as number
    if (!(k >= 0 && k < size)) bad(`dictionary index ${k} at row ${i - d.offset} is out of range (the dictionary has ${size} values)`)
  }
}

/** Each 16-byte view: inline (≤ 12 bytes) or pointing inside one of the variadic buffers. */
function checkViews (d: Data, utf8: boolean, bad: (why: string) => never): void {
  const views = d.values as Uint8Array
  const end = d.offset + d.length
  if (views.byteLength < end * 16) bad(`views too short for ${d.length} rows`)
  const dv = new DataView(views.buffer, views.byteOffset, views.byteLength)
  const buffers = (d as unknown as { variadicBuffers?: Uint8Array[] }).variadicBuffers ?? []
  for (let i = d.offset; i < end; i++) {
    const len = dv.getInt32(i * 16, true)
    if (len < 0) bad(`negative view length at row ${i - d.offset}`)
    let bytes: Uint8Array
    if (len <= 12) bytes = views.subarray(i * 16 + 4, i * 16 + 4 + len)
    else {
      const buf = buffers[dv.getInt32(i * 16 + 8, true)]
      const at = dv.getInt32(i * 16 + 12, true)
      if (buf === undefined || at < 0 || at + len > buf.byteLength) bad(`view at row ${i - d.offset} points outside its buffers`)
      bytes = buf.subarray(at, at + len)
    }
    if (utf8 && !isUtf8(bytes)) bad('strings are not valid UTF-8')
  }
}

function allSet (bitmap: Uint8Array, offset: number, length: number): boolean {
  for (let i = offset; i < offset + length; i++) {
    if ((i & 7) === 0 && i + 8 <= offset + length) {
      if (bitmap[i >> 3] !== 0xff) return false
      i += 7
    } else if ((bitmap[i >> 3] & (1 << (i & 7))) === 0) return false
  }
  return true
}

function checkOffsets (d: Data, valuesLength: number, bad: (why: string) => never): void {
  const off = d.valueOffsets as Int32Array | BigInt64Array
  const end = d.offset + d.length
  if (off.length < end + 1) bad(`offsets too short for ${d.length} rows`)
  // 64-bit offsets by their words: Number() of each BigInt took ~15 ms per 500,000 rows
  const w = off instanceof BigInt64Array ? int64Words(off) : null
  const o32 = off as Int32Array
  let prev = w === null ? o32[d.offset] : readInt64(w, d.offset)
  if (prev < 0) bad('negative offset')
  for (let i = d.offset + 1; i <= end; i++) {
    const v = w === null ? o32[i] : readInt64(w, i)
    if (v < prev) bad(`offsets decrease at row ${i - 1}`)
    prev = v
  }
  if (prev > valuesLength) bad(`offsets point past the end of the values (${prev} > ${valuesLength})`)
}

const NESTED = new Set<Type>([Type.Struct, Type.List, Type.LargeList, Type.FixedSizeList, Type.Map])

function checkNoNulls (d: Data, path: string, nullable: boolean): void {
  const nulls = d.nullBitmap as Uint8Array | undefined
  // The bitmap is what a Parquet writer reads, whatever null count the batch header claims.
  if (!nullable && (d.nullCount > 0 || (nulls !== undefined && nulls.length > 0 && !allSet(nulls, d.offset, d.length)))) {
    throw new InvalidArrowError(`column "${path}": declared non-nullable but holds nulls`)
  }
  const kids = d.type.children as Field[] | null
  if (NESTED.has(d.type.typeId)) {
    d.children.forEach((c, i) => kids?.[i] && checkNoNulls(c, `${path}.${kids[i].name}`, kids[i].nullable))
  }
}

/**
 * Checks a batch already rewritten to the topic's schema: no nulls where the topic says none.
 * A Parquet writer refuses them, and it would refuse the whole flush the batch shares.
 */
export function checkTopicNulls (batch: RecordBatch): void {
  const fields = batch.schema.fields
  batch.data.children.forEach((c, i) => checkNoNulls(c, fields[i].name, fields[i].nullable))
}

/** Checks every column of a decoded batch against its declared row count. */
export function checkBatch (batch: RecordBatch): void {
  const fields = batch.schema.fields
  batch.data.children.forEach((c, i) => {
    if (c.length < batch.numRows) throw new InvalidArrowError(`column "${fields[i].name}" has ${c.length} rows, the batch ${batch.numRows}`)
    checkData(c, fields[i].name)
  })
}
