import { isUtf8 } from 'node:buffer'
import { type Data, type Field, type RecordBatch, type Schema, Type, type Vector } from 'apache-arrow'
import { InvalidArrowError } from '../errors.ts'
import { MAX_TYPE_DEPTH } from '../schema/types.ts'

export function tooManyFields (n: number): string {
  return `the schema has ${n} fields; a topic holds at most ${MAX_TOPIC_FIELDS}`
}

function depthOf (f: Field, depth: number, path: string): void {
  if (depth > MAX_TYPE_DEPTH) throw new InvalidArrowError(`field "${path}" is nested deeper than ${MAX_TYPE_DEPTH} levels`)
  const kids = (f.type.typeId === Type.Dictionary ? f.type.dictionary.children : f.type.children) as Field[] | null
  for (const c of kids ?? []) depthOf(c, depth + 1, `${path}.${c.name}`)
}

/** Most top-level fields a topic may have (TopicSchemaSchema's maxItems): no stream with more can be stored. */
export const MAX_TOPIC_FIELDS = 10_000

/** Rejects schemas no topic could hold and that would cost too much to look at: no fields, too many, too deep. */
export function checkSchema (schema: Schema): void {
  if (schema.fields.length === 0) throw new InvalidArrowError('the schema has no fields')
  if (schema.fields.length > MAX_TOPIC_FIELDS) throw new InvalidArrowError(tooManyFields(schema.fields.length))
  for (const f of schema.fields) depthOf(f, 1, f.name)
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
    case Type.List: case Type.Map:
      checkOffsets(d, d.children[0].length, bad)
      checkData(d.children[0], `${path}.${(t.children[0] as Field).name}`)
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
  const nulls = d.nullCount > 0 ? d.nullBitmap as Uint8Array | undefined : undefined
  for (let i = d.offset; i < d.offset + d.length; i++) {
    if (nulls !== undefined && nulls.length > 0 && (nulls[i >> 3] & (1 << (i & 7))) === 0) continue
    const k = Number(idx[i])
    if (!(k >= 0 && k < size)) bad(`dictionary index ${k} at row ${i - d.offset} is out of range (the dictionary has ${size} values)`)
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
  let prev = Number(off[d.offset])
  if (prev < 0) bad('negative offset')
  for (let i = d.offset + 1; i <= end; i++) {
    const v = Number(off[i])
    if (v < prev) bad(`offsets decrease at row ${i - 1}`)
    prev = v
  }
  if (prev > valuesLength) bad(`offsets point past the end of the values (${prev} > ${valuesLength})`)
}

function checkNoNulls (d: Data, path: string, nullable: boolean): void {
  const nulls = d.nullBitmap as Uint8Array | undefined
  // The bitmap is what a Parquet writer reads, whatever null count the batch header claims.
  if (!nullable && (d.nullCount > 0 || (nulls !== undefined && nulls.length > 0 && !allSet(nulls, d.offset, d.length)))) {
    throw new InvalidArrowError(`column "${path}": declared non-nullable but holds nulls`)
  }
  const kids = d.type.children as Field[] | null
  if (d.type.typeId === Type.Struct || d.type.typeId === Type.List) {
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
