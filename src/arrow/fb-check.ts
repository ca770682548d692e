import { InvalidArrowError } from '../errors.ts'
import { checkFieldTypeTag, unsupportedCompression } from './unsupported.ts'
import { MAX_TYPE_DEPTH } from '../schema/type-parser.ts'
import { schemaLimits, tooManyFields } from '../schema/limits.ts'

/**
 * The one flatbuffer guard: bounds checks on every part of an IPC `Message` header that we or
 * apache-arrow read. Its decoder trusts every vector length: a schema whose `fields` length was
 * overwritten with 2^31 makes it loop for minutes on the event loop (found by the fuzzer). Every
 * vector here must fit inside the metadata buffer, and a schema may hold at most
 * MAX_SCHEMA_FIELDS fields counted at every depth, so the work apache-arrow does is bounded.
 */
const names = new TextDecoder()

class Reader {
  readonly dv: DataView
  readonly len: number
  fields = 0
  constructor (buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    this.len = buf.byteLength
  }

  bad (why: string): never { throw new InvalidArrowError(`malformed message header (${why})`) }

  /** Absolute position of field k of the table at `table`, or 0 when absent. */
  field (table: number, k: number, size: number): number {
    if (table < 0 || table + 4 > this.len) this.bad('table out of range')
    const vtable = table - this.dv.getInt32(table, true)
    if (vtable < 0 || vtable + 4 > this.len) this.bad('vtable out of range')
    const vlen = this.dv.getUint16(vtable, true)
    if (vtable + vlen > this.len) this.bad('vtable size out of range')
    const at = 4 + 2 * k
    const off = at + 2 <= vlen ? this.dv.getUint16(vtable + at, true) : 0
    if (off !== 0 && table + off + size > this.len) this.bad('field out of range')
    return off === 0 ? 0 : table + off
  }

  /** Follows the offset stored at `pos` (a table, vector or string reference). */
  deref (pos: number): number {
    const target = pos + this.dv.getUint32(pos, true)
    if (target + 4 > this.len) this.bad('offset out of range')
    return target
  }

  /** The vector referenced by field k: its element count after checking it fits; 0 when absent. */
  vector (table: number, k: number, elemSize: number): { at: number, length: number } {
    const f = this.field(table, k, 4)
    if (f === 0) return { at: 0, length: 0 }
    const v = this.deref(f)
    const length = this.dv.getUint32(v, true)
    if (v + 4 + length * elemSize > this.len) this.bad(`vector of ${length} elements overruns the header`)
    return { at: v + 4, length }
  }

  keyValues (table: number, k: number): void {
    const kv = this.vector(table, k, 4)
    for (let i = 0; i < kv.length; i++) {
      const entry = this.deref(kv.at + 4 * i)
      this.vector(entry, 0, 1)
      this.vector(entry, 1, 1)
    }
  }

  /**
   * `path` holds the name vectors of the enclosing fields: decoded only for the error, so that a
   * schema too deep for any topic gets the same answer whether it is caught here or by checkSchema.
   */
  fieldTable (table: number, path: Array<{ at: number, length: number }>): void {
    if (++this.fields > schemaLimits.maxFields) throw new InvalidArrowError(tooManyFields(this.fields, false))
    const name = this.vector(table, 0, 1)
    path.push(name)
    if (path.length > MAX_TYPE_DEPTH) throw new InvalidArrowError(`field "${this.dotted(path)}" is nested deeper than ${MAX_TYPE_DEPTH} levels`)
    const tag = this.field(table, 2, 1)
    if (tag !== 0) checkFieldTypeTag(this.dv.getUint8(tag), () => this.dotted(path))
    const children = this.vector(table, 5, 4)
    for (let i = 0; i < children.length; i++) this.fieldTable(this.deref(children.at + 4 * i), path)
    this.keyValues(table, 6)
    path.pop()
  }

  dotted (path: Array<{ at: number, length: number }>): string {
    return path.map((n) => names.decode(new Uint8Array(this.dv.buffer, this.dv.byteOffset + n.at, n.length))).join('.')
  }

  recordBatch (table: number): void {
    // A negative row count was read by apache-arrow as an empty batch: its rows vanished from an
    // answered request ("rows": 0). So were negative field-node lengths and null counts.
    const len = this.field(table, 0, 8)
    const rows = len === 0 ? 0n : this.dv.getBigInt64(len, true)
    if (rows < 0n || rows > BigInt(Number.MAX_SAFE_INTEGER)) this.bad(`record batch length ${rows}`)
    const nodes = this.vector(table, 1, 16) // nodes: FieldNode structs
    for (let i = 0; i < nodes.length; i++) {
      const length = this.dv.getBigInt64(nodes.at + 16 * i, true)
      const nulls = this.dv.getBigInt64(nodes.at + 16 * i + 8, true)
      if (length < 0n || nulls < 0n || nulls > length) this.bad(`field node ${i}: length ${length}, null count ${nulls}`)
    }
    this.vector(table, 2, 16) // buffers: Buffer structs
    this.vector(table, 4, 8) // variadicBufferCounts
    const compression = this.field(table, 3, 4)
    if (compression !== 0) {
      const codec = this.field(this.deref(compression), 0, 1)
      throw unsupportedCompression(codec === 0 ? 0 : this.dv.getInt8(codec))
    }
  }
}

/**
 * The parts of an IPC `Message` flatbuffer we must trust before apache-arrow reads the body:
 * header type and body length, read with a bounds check at every step (garbage cannot make us
 * read outside the buffer or believe a negative/huge length), then every vector of the header.
 */
export function readMessageHeader (meta: Uint8Array): { headerType: number, bodyLength: number } {
  const r = new Reader(meta)
  if (r.len < 8) r.bad('too short')
  const messageTable = r.dv.getUint32(0, true)
  if (messageTable + 4 > r.len) r.bad('root offset out of range')
  const ht = r.field(messageTable, 1, 1)
  const headerType = ht === 0 ? 0 : r.dv.getUint8(ht)
  const hf = r.field(messageTable, 2, 4)
  if (hf === 0) r.bad('no header')
  const bl = r.field(messageTable, 3, 8)
  const body = bl === 0 ? 0n : r.dv.getBigInt64(bl, true)
  if (body < 0n || body > BigInt(Number.MAX_SAFE_INTEGER)) r.bad(`body length ${body}`)
  r.keyValues(messageTable, 4)
  const header = r.deref(hf)
  if (headerType === 1) { // Schema
    const fields = r.vector(header, 1, 4)
    // Before apache-arrow spends time decoding thousands of fields no topic could hold.
    if (fields.length > schemaLimits.maxFields) throw new InvalidArrowError(tooManyFields(fields.length))
    for (let i = 0; i < fields.length; i++) r.fieldTable(r.deref(fields.at + 4 * i), [])
    r.keyValues(header, 2)
    r.vector(header, 3, 8) // features
  } else if (headerType === 3) { // RecordBatch
    r.recordBatch(header)
  } else if (headerType === 2) { // DictionaryBatch
    const data = r.field(header, 1, 4)
    if (data !== 0) r.recordBatch(r.deref(data))
  }
  return { headerType, bodyLength: Number(body) }
}
