import { ByteWriter, readThrift, writeThrift, type ThriftObject } from './thrift-compact.ts'

/**
 * One Parquet object from Parquet files encoded separately (by different encoder threads, at
 * different times) for the same schema and writer settings: their column chunks are concatenated
 * unchanged and one footer lists every row group, with offsets shifted to the chunks' new places
 * and the row counts summed. Nothing is decoded or re-encoded, so a flush costs a copy of the
 * encoded bytes (none at all if the caller streams `chunks`) plus a footer.
 *
 * Layout: PAR1 · each part's data (row groups, and bloom filters if any) · every column index
 * (copied as is: it holds values, not offsets) · every offset index (rewritten: its page
 * locations are absolute offsets) · FileMetaData · length · PAR1.
 *
 * Field ids are those of parquet.thrift: FileMetaData 2 schema, 3 num_rows, 4 row_groups,
 * 5 key_value_metadata; RowGroup 1 columns, 5 file_offset, 7 ordinal; ColumnChunk 2 file_offset,
 * 3 meta_data, 4/5 offset index offset/length, 6/7 column index offset/length; ColumnMetaData
 * 7 total_compressed_size, 9 data_page_offset, 10 index_page_offset, 11 dictionary_page_offset,
 * 14/15 bloom filter offset/length; OffsetIndex 1 page_locations; PageLocation 1 offset.
 */

export interface AssembledParquet {
  /** The object's bytes in order: views of the parts' data plus the new index and footer bytes. */
  chunks: Uint8Array[]
  bytes: number
  rows: number
  rowGroups: number
}

const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]) // PAR1

export class ParquetAssemblyError extends Error {}

interface Part {
  bytes: Uint8Array
  meta: ThriftObject
  /** End of the row groups' data (and bloom filters): the region [4, dataEnd) is copied. */
  dataEnd: number
}

function hasMagic (b: Uint8Array, at: number): boolean {
  return b[at] === MAGIC[0] && b[at + 1] === MAGIC[1] && b[at + 2] === MAGIC[2] && b[at + 3] === MAGIC[3]
}

function readPart (bytes: Uint8Array, i: number): Part {
  const n = bytes.byteLength
  if (n < 12 || !hasMagic(bytes, 0) || !hasMagic(bytes, n - 4)) throw new ParquetAssemblyError(`part ${i} is not a Parquet file`)
  const len = new DataView(bytes.buffer, bytes.byteOffset + n - 8, 4).getUint32(0, true)
  if (len + 12 > n) throw new ParquetAssemblyError(`part ${i}: footer length ${len} exceeds the file`)
  // Parsed from a copy: the reader's binary fields (statistics, names) are views of what it read,
  // and the assembler keeps the row groups' entries after the part itself is let go.
  const meta = readThrift(bytes.slice(n - 8 - len, n - 8))
  if (meta.field_8 !== undefined) throw new ParquetAssemblyError(`part ${i} is encrypted`)
  let dataEnd = 4
  for (const rg of meta.field_4 ?? []) {
    for (const cc of rg.field_1) {
      const md = cc.field_3
      if (md === undefined) throw new ParquetAssemblyError(`part ${i}: a column chunk has no metadata`)
      if (cc.field_1 !== undefined) throw new ParquetAssemblyError(`part ${i}: a column chunk lives in another file`)
      const start = md.field_11 !== undefined && md.field_11 > 0n ? md.field_11 : md.field_9
      dataEnd = Math.max(dataEnd, Number(start + md.field_7))
      if (md.field_14 !== undefined) {
        // A bloom filter of unknown length: keep everything up to the footer, to be safe.
        dataEnd = Math.max(dataEnd, md.field_15 !== undefined ? Number(md.field_14) + md.field_15 : n - 8 - len)
      }
    }
  }
  if (dataEnd > n - 8 - len) throw new ParquetAssemblyError(`part ${i}: column data overlaps the footer`)
  return { bytes, meta, dataEnd }
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}

/**
 * Schema and key-value metadata (ARROW:schema among them): parts must match byte for byte, one
 * object, one schema. The key-value pairs are compared as a set: the writer (parquet-wasm) lists
 * them in hash-map order, which differs from one encode to the next.
 */
function schemaOf (p: Part): Uint8Array {
  const name = (e: ThriftObject): string => typeof e.field_1 === 'string' ? e.field_1 : Buffer.from(e.field_1 as Uint8Array).toString('latin1')
  const kv = [...(p.meta.field_5 ?? []) as ThriftObject[]].sort((a, b) => name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0)
  return writeThrift({ field_1: p.meta.field_2, field_2: kv })
}

const shifted = (v: bigint | undefined, by: bigint): bigint | undefined => v === undefined ? undefined : v + by

/**
 * Byte strings appended one after another into one growing buffer: thousands of small
 * Uint8Arrays would cost ~200 bytes of bookkeeping each, more than the bytes they hold.
 */
class Packed {
  #buf = new Uint8Array(64 * 1024)
  #ends: number[] = []

  get length (): number { return this.#ends.length }

  push (bytes: Uint8Array): void {
    const at = this.#ends.length === 0 ? 0 : this.#ends[this.#ends.length - 1]
    if (at + bytes.byteLength > this.#buf.byteLength) {
      const bigger = new Uint8Array(Math.max(this.#buf.byteLength * 2, at + bytes.byteLength))
      bigger.set(this.#buf.subarray(0, at))
      this.#buf = bigger
    }
    this.#buf.set(bytes, at)
    this.#ends.push(at + bytes.byteLength)
  }

  /** The i-th string (a view: valid until the next push). */
  get (i: number): Uint8Array {
    return this.#buf.subarray(this.start(i), this.#ends[i])
  }

  /** Where the i-th string starts in all(). */
  start (i: number): number {
    return i === 0 ? 0 : this.#ends[i - 1]
  }

  /** Every string, one after another (a view: valid until the next push). */
  all (): Uint8Array {
    return this.#buf.subarray(0, this.#ends.length === 0 ? 0 : this.#ends[this.#ends.length - 1])
  }
}

const COLUMN_INDEX = 1
const OFFSET_INDEX = 2
const LIST = 9
const STRUCT = 12

/**
 * Joins Parquet files of one schema into one as they come, for a caller that cannot hold them
 * all (a staged request's parts, src/parquet/row-group-stream.ts): `add` returns the part's data
 * to write next and keeps only its footer entries and page indexes (copied, a few KiB); `finish`
 * returns the object's last bytes. The object is MAGIC, then every add()'s bytes in order, then
 * finish()'s. Throws ParquetAssemblyError.
 *
 * Memory: each row group is kept as its Thrift bytes (~150 bytes a column chunk), not as the
 * objects it was read into (~5 times that on the heap: a 1 GiB body of 81 columns kept 40 MiB of
 * them). The page index offsets, known only once the data ends, are filled in by finish(), which
 * reads and writes back one row group at a time.
 */
export class ParquetAssembler {
  #at = 4
  #rows = 0n
  #first: ThriftObject | null = null
  #schema: Uint8Array | null = null
  /** Each RowGroup's Thrift bytes, offsets shifted, its column chunks without their page index fields (4-7). */
  #rowGroups = new Packed()
  /** Per row group, per column chunk: COLUMN_INDEX | OFFSET_INDEX, whichever it has. */
  #indexFlags = new Packed()
  #columnIndexes = new Packed()
  #offsetIndexes = new Packed()
  #parts = 0

  /** The object's first bytes (the magic number). */
  static readonly head = MAGIC

  /** Bytes of the object so far (head included). */
  get bytes (): number { return this.#at }
  get rows (): number { return Number(this.#rows) }
  get rowGroups (): number { return this.#rowGroups.length }

  /** The part's column data, to be written after everything returned before (a view of `bytes`). */
  add (bytes: Uint8Array): Uint8Array {
    const i = this.#parts++
    const part = readPart(bytes, i)
    const schema = schemaOf(part)
    if (this.#first === null) {
      // Everything but the row groups, which are kept apart (below).
      this.#first = { ...part.meta, field_4: undefined }
      this.#schema = schema
    } else if (!sameBytes(this.#schema!, schema)) {
      throw new ParquetAssemblyError(`part ${i} has another schema than part 0`)
    }
    const by = BigInt(this.#at - 4)
    this.#at += part.dataEnd - 4
    this.#rows += part.meta.field_3
    for (const rg of part.meta.field_4 ?? []) {
      rg.field_5 = shifted(rg.field_5, by)
      // RowGroup.ordinal is an i16 the generic writer cannot write; it is optional (only
      // encrypted files need it) and every part numbered its groups from 0 anyway.
      delete rg.field_7
      const indexes = new Uint8Array(rg.field_1.length)
      rg.field_1.forEach((cc: ThriftObject, k: number) => {
        const md = cc.field_3
        cc.field_2 = shifted(cc.field_2, by)
        md.field_9 = shifted(md.field_9, by)
        md.field_10 = shifted(md.field_10, by)
        md.field_11 = shifted(md.field_11, by)
        md.field_14 = shifted(md.field_14, by)
        // Copies: the part's own bytes are let go once its data is written. A column index holds
        // values, kept as is; an offset index's page locations are absolute offsets, shifted.
        if (cc.field_6 !== undefined) {
          this.#columnIndexes.push(slice(bytes, cc.field_6, cc.field_7, i))
          indexes[k] |= COLUMN_INDEX
        }
        if (cc.field_4 !== undefined) {
          const index = readThrift(slice(bytes, cc.field_4, cc.field_5, i))
          for (const loc of index.field_1) loc.field_1 += by
          this.#offsetIndexes.push(writeThrift(index))
          indexes[k] |= OFFSET_INDEX
        }
        for (const f of [4, 5, 6, 7]) delete cc[`field_${f}`]
      })
      this.#rowGroups.push(writeThrift(rg))
      this.#indexFlags.push(indexes)
    }
    return bytes.subarray(4, part.dataEnd)
  }

  /**
   * The object's end: page indexes and one footer listing every part's row groups.
   * `extraMetadata`: key-value metadata added to the parts' own (the Idempotency-Keys an object commits).
   */
  finish (extraMetadata?: Record<string, string>): Uint8Array[] {
    return [...this.finishSteps(extraMetadata)]
  }

  /**
   * finish() a step at a time: the page indexes, then the footer one row group at a time. Each
   * row group is read and written again (~20 µs a column chunk): a caller that lets the event
   * loop run between steps never holds it longer than one row group of a wide object.
   */
  * finishSteps (extraMetadata?: Record<string, string>): Generator<Uint8Array, void, undefined> {
    if (this.#first === null) throw new ParquetAssemblyError('nothing to assemble')
    // The page indexes, each kind as one run of bytes (they were packed one after another).
    const columnBase = this.#at
    const columns = this.#columnIndexes.all()
    this.#at += columns.byteLength
    const offsetBase = this.#at
    const offsets = this.#offsetIndexes.all()
    this.#at += offsets.byteLength
    if (columns.byteLength > 0) yield columns
    if (offsets.byteLength > 0) yield offsets

    const meta: ThriftObject = { ...this.#first, field_3: this.#rows }
    if (extraMetadata !== undefined) {
      meta.field_5 = [...this.#first.field_5 ?? [], ...Object.entries(extraMetadata).map(([k, v]) => ({ field_1: k, field_2: v }))]
    }
    // FileMetaData is written in pieces, its fields in ascending id order (as the Thrift writer
    // expects): those before the row groups, the row groups one at a time, those after.
    const before: ThriftObject = {}
    const after: ThriftObject = { field_4: [] }
    let lastBefore = 0
    for (const [k, v] of Object.entries(ordered(meta))) {
      const id = Number(k.slice(6))
      if (v === undefined || id === 4) continue
      if (id < 4) { before[k as `field_${number}`] = v; lastBefore = id } else after[k as `field_${number}`] = v
    }
    let footer = 0
    const emit = (bytes: Uint8Array): Uint8Array => {
      footer += bytes.byteLength
      this.#at += bytes.byteLength
      return bytes
    }
    const head = writeThrift(before)
    const writer = new ByteWriter(head.byteLength + 16)
    writer.appendBytes(head.subarray(0, head.byteLength - 1)) // without its stop byte
    writer.appendUint8((4 - lastBefore) << 4 | LIST)
    const n = this.#rowGroups.length
    if (n > 14) {
      writer.appendUint8(15 << 4 | STRUCT)
      writer.appendVarInt(n)
    } else {
      writer.appendUint8(n << 4 | STRUCT)
    }
    yield emit(writer.getBytes())
    let c = 0
    let o = 0
    for (let g = 0; g < n; g++) {
      const rg = readThrift(this.#rowGroups.get(g))
      const flags = this.#indexFlags.get(g)
      rg.field_1 = rg.field_1.map((cc: ThriftObject, k: number) => {
        if (flags[k] === 0) return cc
        const out: ThriftObject = { ...cc }
        if ((flags[k] & OFFSET_INDEX) !== 0) {
          out.field_4 = BigInt(offsetBase + this.#offsetIndexes.start(o))
          out.field_5 = this.#offsetIndexes.get(o++).byteLength
        }
        if ((flags[k] & COLUMN_INDEX) !== 0) {
          out.field_6 = BigInt(columnBase + this.#columnIndexes.start(c))
          out.field_7 = this.#columnIndexes.get(c++).byteLength
        }
        return ordered(out)
      })
      yield emit(writeThrift(rg))
    }
    // The fields after the row groups, their first id delta counted from 4: written after an
    // empty field 4, which is then left out.
    const tail = writeThrift(after)
    const skip = writeThrift({ field_4: [] }).byteLength - 1
    const end = new ByteWriter(tail.byteLength + 16)
    end.appendBytes(tail.subarray(skip))
    end.appendUint32(footer + tail.byteLength - skip)
    end.appendBytes(MAGIC)
    const last = end.getBytes()
    this.#at += last.byteLength
    yield last
  }
}

/** The struct with its fields in ascending id order (the Thrift writer writes them in key order). */
function ordered (o: ThriftObject): ThriftObject {
  const out: ThriftObject = {}
  for (const id of Object.keys(o).map((k) => Number(k.slice(6))).sort((a, b) => a - b)) out[`field_${id}`] = o[`field_${id}`]
  return out
}

/** Joins Parquet files of one schema into one held in memory (see the module comment and ParquetAssembler). */
export function assembleParquet (parts: readonly Uint8Array[], extraMetadata?: Record<string, string>): AssembledParquet {
  const a = new ParquetAssembler()
  const chunks = [...assemblySteps(a, parts, extraMetadata)]
  return { chunks, bytes: a.bytes, rows: a.rows, rowGroups: a.rowGroups }
}

/** The object's bytes in order, each step one part or one footer step of `a` (see finishSteps). */
function * assemblySteps (a: ParquetAssembler, parts: readonly Uint8Array[], extraMetadata?: Record<string, string>): Generator<Uint8Array, void, undefined> {
  if (parts.length === 0) throw new ParquetAssemblyError('nothing to assemble')
  yield ParquetAssembler.head
  for (const part of parts) yield a.add(part)
  yield * a.finishSteps(extraMetadata)
}

function slice (bytes: Uint8Array, offset: bigint, length: number | undefined, i: number): Uint8Array {
  const start = Number(offset)
  if (length === undefined || start < 4 || start + length > bytes.byteLength - 8) throw new ParquetAssemblyError(`part ${i}: a page index lies outside the file`)
  return bytes.subarray(start, start + length)
}

/**
 * assembleParquet, letting the event loop run (`pause`) after each part and each footer step:
 * a flush of a wide schema (10,000 columns) takes seconds to assemble, which held every other
 * request (a /healthz stall of 5.6 s for 41 MB of 10,000 columns) when done in one go.
 */
export async function assembleParquetAsync (parts: readonly Uint8Array[], extraMetadata: Record<string, string> | undefined, pause: () => Promise<void>): Promise<AssembledParquet> {
  const a = new ParquetAssembler()
  const chunks: Uint8Array[] = []
  for (const c of assemblySteps(a, parts, extraMetadata)) {
    chunks.push(c)
    await pause()
  }
  return { chunks, bytes: a.bytes, rows: a.rows, rowGroups: a.rowGroups }
}

/** The assembled object as one buffer (for sinks that take a whole body). */
export function concatChunks (a: AssembledParquet): Uint8Array {
  return Buffer.concat(a.chunks, a.bytes)
}
