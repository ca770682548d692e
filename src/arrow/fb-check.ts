import { InvalidArrowError } from '../errors.ts'
import { MAX_TYPE_DEPTH } from '../schema/type-parser.ts'
import { MAX_TOPIC_FIELDS, tooManyFields } from './validate.ts'

/**
 * Bounds checks on the flatbuffer vectors apache-arrow iterates when it decodes a message
 * header. Its decoder trusts every vector length: a schema whose `fields` length was overwritten
 * with 2^31 makes it loop for minutes on the event loop (found by the fuzzer). Every vector here
 * must fit inside the metadata buffer, so the work apache-arrow does is bounded by its size.
 */
const MAX_FIELDS = 1_000_000
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
    if (++this.fields > MAX_FIELDS) this.bad('too many fields')
    const name = this.vector(table, 0, 1)
    path.push(name)
    if (path.length > MAX_TYPE_DEPTH) {
      const dotted = path.map((n) => names.decode(new Uint8Array(this.dv.buffer, this.dv.byteOffset + n.at, n.length))).join('.')
      throw new InvalidArrowError(`field "${dotted}" is nested deeper than ${MAX_TYPE_DEPTH} levels`)
    }
    const children = this.vector(table, 5, 4)
    for (let i = 0; i < children.length; i++) this.fieldTable(this.deref(children.at + 4 * i), path)
    this.keyValues(table, 6)
    path.pop()
  }

  recordBatch (table: number): void {
    this.vector(table, 1, 16) // nodes: FieldNode structs
    this.vector(table, 2, 16) // buffers: Buffer structs
    this.vector(table, 4, 8) // variadicBufferCounts
  }
}

/** Checks the header table of a Message (`headerPos` from the Message's field 2) of the given type. */
export function checkMessageVectors (meta: Uint8Array, messageTable: number, headerType: number): void {
  const r = new Reader(meta)
  r.keyValues(messageTable, 4)
  const hf = r.field(messageTable, 2, 4)
  if (hf === 0) return
  const header = r.deref(hf)
  if (headerType === 1) { // Schema
    const fields = r.vector(header, 1, 4)
    // Before apache-arrow spends time decoding thousands of fields no topic could hold.
    if (fields.length > MAX_TOPIC_FIELDS) throw new InvalidArrowError(tooManyFields(fields.length))
    for (let i = 0; i < fields.length; i++) r.fieldTable(r.deref(fields.at + 4 * i), [])
    r.keyValues(header, 2)
    r.vector(header, 3, 8) // features
  } else if (headerType === 3) { // RecordBatch
    r.recordBatch(header)
  } else if (headerType === 2) { // DictionaryBatch
    const data = r.field(header, 1, 4)
    if (data !== 0) r.recordBatch(r.deref(data))
  }
}
