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
 * Joins Parquet files of one schema into one as they come, for a caller that cannot hold them
 * all (a staged request's parts, src/parquet/row-group-stream.ts): `add` returns the part's data
 * to write next and keeps only its footer entries and page indexes (copied, a few KiB); `finish`
 * returns the object's last bytes. The object is MAGIC, then every add()'s bytes in order, then
 * finish()'s. Throws ParquetAssemblyError.
 */
export class ParquetAssembler {
  #at = 4
  #rows = 0n
  #first: ThriftObject | null = null
  #schema: Uint8Array | null = null
  #rowGroups: ThriftObject[] = []
  #columnIndexes: Array<{ cc: ThriftObject, bytes: Uint8Array }> = []
  #offsetIndexes: Array<{ cc: ThriftObject, by: bigint, bytes: Uint8Array }> = []
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
      this.#first = part.meta
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
      for (const cc of rg.field_1) {
        const md = cc.field_3
        cc.field_2 = shifted(cc.field_2, by)
        md.field_9 = shifted(md.field_9, by)
        md.field_10 = shifted(md.field_10, by)
        md.field_11 = shifted(md.field_11, by)
        md.field_14 = shifted(md.field_14, by)
        // Copies: the part's own bytes are let go once its data is written.
        if (cc.field_6 !== undefined) this.#columnIndexes.push({ cc, bytes: slice(bytes, cc.field_6, cc.field_7, i).slice() })
        if (cc.field_4 !== undefined) this.#offsetIndexes.push({ cc, by, bytes: slice(bytes, cc.field_4, cc.field_5, i).slice() })
      }
      this.#rowGroups.push(rg)
    }
    return bytes.subarray(4, part.dataEnd)
  }

  /**
   * The object's end: page indexes and one footer listing every part's row groups.
   * `extraMetadata`: key-value metadata added to the parts' own (the Idempotency-Keys an object commits).
   */
  finish (extraMetadata?: Record<string, string>): Uint8Array[] {
    if (this.#first === null) throw new ParquetAssemblyError('nothing to assemble')
    const chunks: Uint8Array[] = []
    for (const { cc, bytes } of this.#columnIndexes) {
      cc.field_6 = BigInt(this.#at)
      chunks.push(bytes)
      this.#at += bytes.byteLength
    }
    for (const { cc, by, bytes } of this.#offsetIndexes) {
      const index = readThrift(bytes)
      for (const loc of index.field_1) loc.field_1 += by
      const out = writeThrift(index)
      cc.field_4 = BigInt(this.#at)
      cc.field_5 = out.byteLength
      chunks.push(out)
      this.#at += out.byteLength
    }
    const meta: ThriftObject = { ...this.#first, field_3: this.#rows, field_4: this.#rowGroups }
    if (extraMetadata !== undefined) {
      meta.field_5 = [...this.#first.field_5 ?? [], ...Object.entries(extraMetadata).map(([k, v]) => ({ field_1: k, field_2: v }))]
      // The Thrift writer expects fields in ascending id order.
      for (const k of Object.keys(meta).sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))) {
        const v = meta[k as `field_${number}`]
        delete meta[k as `field_${number}`]
        meta[k as `field_${number}`] = v
      }
    }
    const writer = new ByteWriter(64 * 1024)
    writeThrift(meta, writer)
    writer.appendUint32(writer.offset)
    writer.appendBytes(MAGIC)
    const footer = writer.getBytes()
    chunks.push(footer)
    this.#at += footer.byteLength
    return chunks
  }
}

/** Joins Parquet files of one schema into one held in memory (see the module comment and ParquetAssembler). */
export function assembleParquet (parts: readonly Uint8Array[], extraMetadata?: Record<string, string>): AssembledParquet {
  if (parts.length === 0) throw new ParquetAssemblyError('nothing to assemble')
  const a = new ParquetAssembler()
  const chunks: Uint8Array[] = [ParquetAssembler.head]
  for (const part of parts) chunks.push(a.add(part))
  chunks.push(...a.finish(extraMetadata))
  return { chunks, bytes: a.bytes, rows: a.rows, rowGroups: a.rowGroups }
}

function slice (bytes: Uint8Array, offset: bigint, length: number | undefined, i: number): Uint8Array {
  const start = Number(offset)
  if (length === undefined || start < 4 || start + length > bytes.byteLength - 8) throw new ParquetAssemblyError(`part ${i}: a page index lies outside the file`)
  return bytes.subarray(start, start + length)
}

/** The assembled object as one buffer (for sinks that take a whole body). */
export function concatChunks (a: AssembledParquet): Uint8Array {
  return Buffer.concat(a.chunks, a.bytes)
}
