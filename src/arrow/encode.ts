import {
  type Data, type DataType, Field, makeData, RecordBatch, RecordBatchStreamWriter,
  Schema, Struct, TimeUnit, Timestamp, Type
} from 'apache-arrow'
import { INGESTED_AT } from '../schema/types.ts'
import { batchOf } from './batch.ts'
import { nextTurn, Slicer } from './json-slices.ts'

/** Type of the `__ingested_at` column every stored row gets. */
export const INGESTED_AT_TYPE = new Timestamp(TimeUnit.MICROSECOND, 'UTC')
const INGESTED_AT_FIELD = new Field(INGESTED_AT, INGESTED_AT_TYPE, false)

/**
 * One Arrow IPC stream (schema, batches, end-of-stream marker) in one buffer. The batches must
 * share one schema; `schema` is needed when there are no batches.
 */
export function toIpcStream (batches: readonly RecordBatch[], schema?: Schema): Uint8Array {
  const s = schema ?? batches[0]?.schema
  if (s === undefined) throw new TypeError('toIpcStream needs a schema when there are no batches')
  return writeIpcStream(batches, s, (n) => new Uint8Array(n))
}

/** The stream writer's output for `batches`: its own chunks, views of the batches' buffers (nothing copied). */
function ipcChunks (batches: readonly RecordBatch[], schema: Schema): Uint8Array[] {
  const writer = new RecordBatchStreamWriter()
  writer.reset(undefined, schema)
  for (const b of batches) writer.write(conform(b, schema))
  writer.finish()
  return writerChunks(writer)
}

/** `b` under `schema` (the same columns; the writer wants one schema object for every batch). */
function conform (b: RecordBatch, schema: Schema): RecordBatch {
  return b.schema === schema ? b : batchOf(schema, b.data.children, b.numRows)
}

/** The chunks copied once into one buffer from `alloc`. */
function copyOut (parts: readonly Uint8Array[], alloc: (n: number) => Uint8Array): Uint8Array {
  const total = parts.reduce((n, c) => n + c.byteLength, 0)
  const out = alloc(total)
  copyRange(parts, 0, total, out)
  return out
}

/**
 * A finished writer's output. The writer's queue of chunks (apache-arrow 21 AsyncByteQueue;
 * test/internals.test.ts): saves a copy of every flush's IPC; if that ever changes, one more copy.
 */
function writerChunks (writer: RecordBatchStreamWriter): Uint8Array[] {
  const chunks = (writer as unknown as { _sink?: { _values?: unknown } })._sink?._values
  return Array.isArray(chunks) && chunks.every((c) => c instanceof Uint8Array)
    ? chunks as Uint8Array[]
    : [writer.toUint8Array(true)]
}

/** Copies bytes [from, to) of the concatenation of `chunks` into `out`. */
function copyRange (chunks: readonly Uint8Array[], from: number, to: number, out: Uint8Array): void {
  let at = 0
  let o = 0
  for (const c of chunks) {
    const end = at + c.byteLength
    if (end > from && at < to) {
      const piece = c.subarray(Math.max(0, from - at), Math.min(c.byteLength, to - at))
      out.set(piece, o)
      o += piece.byteLength
    }
    at = end
  }
}

/**
 * toIpcStream written into a buffer from `alloc` (e.g. a reused shared buffer) instead of a new
 * one: the writer's chunks are views of the batches' own buffers, copied once, into `alloc(size)`.
 */
export function writeIpcStream (batches: readonly RecordBatch[], schema: Schema, alloc: (n: number) => Uint8Array): Uint8Array {
  return copyOut(ipcChunks(batches, schema), alloc)
}

/**
 * writeIpcStream for a flush's row group, which may hold tens of thousands of small batches (~20 µs
 * each to write, plus the garbage): the event loop turns between batches after each SLICE_MS.
 * `prepare` makes each batch just before it is written (e.g. its µs timestamps in a scratch the
 * caller must not reuse until this resolves); the batches' schema is the first prepared one's.
 */
export async function writeIpcStreamPaced<T> (items: readonly T[], prepare: (item: T) => RecordBatch, alloc: (n: number) => Uint8Array): Promise<{ ipc: Uint8Array, schema: Schema }> {
  if (items.length === 0) throw new TypeError('writeIpcStreamPaced needs at least one batch')
  const slicer = new Slicer()
  const first = prepare(items[0])
  const schema = first.schema
  const writer = new RecordBatchStreamWriter()
  writer.reset(undefined, schema)
  for (let i = 0; i < items.length; i++) {
    writer.write(conform(i === 0 ? first : prepare(items[i]), schema))
    await slicer.pause()
  }
  writer.finish()
  return { ipc: copyOut(writerChunks(writer), alloc), schema }
}

/** The IPC stream's end-of-stream marker: continuation token, then a zero metadata length. */
export const IPC_END = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])

/** Bytes IpcPieces.write copies in one synchronous step: ~70 ms into fresh memory (9 ms per MiB here). */
export const COPY_STEP = 8 * 1024 * 1024

/**
 * An IPC stream built piece by piece: `head` (the schema message), then any number of
 * writeIpcMessages() outputs, then IPC_END. For a writer that must copy each batch as it comes
 * (src/pipeline/row-group-stream.ts). The schema must have no dictionary-encoded fields (every
 * piece would carry its own dictionaries); topic schemas have none (stored types are plain).
 */
export class IpcPieces {
  readonly head: Uint8Array
  readonly #schema: Schema

  constructor (schema: Schema) {
    this.#schema = schema
    const empty = toIpcStream([], schema)
    this.head = empty.subarray(0, empty.byteLength - IPC_END.byteLength)
  }

  /**
   * `batch`'s record-batch message alone (no schema, no end marker), copied once into `alloc(size)`.
   * A message over COPY_STEP bytes is copied a step at a time, the event loop turning between
   * steps (one 200 MiB value took 0.8-1.9 s to copy into fresh memory in one go); `alive` is asked
   * before each further step, and false (the output was given up, its memory may be reused) stops
   * the copy with an error.
   */
  async write (batch: RecordBatch, alloc: (n: number) => Uint8Array, alive: () => boolean = () => true): Promise<Uint8Array> {
    const parts = ipcChunks([batch], this.#schema)
    const total = parts.reduce((n, c) => n + c.byteLength, 0)
    const from = this.head.byteLength
    const to = total - IPC_END.byteLength
    const out = alloc(to - from)
    for (let at = from; at < to; at += COPY_STEP) {
      if (at > from) {
        await nextTurn()
        if (!alive()) throw new Error('the IPC message\'s output was given up while it was copied')
      }
      copyRange(parts, at, Math.min(to, at + COPY_STEP), out.subarray(at - from))
    }
    return out
  }
}

const ingestedSchemas = new WeakMap<Schema, Schema>()

/**
 * Appends the `__ingested_at` column (timestamp[us, tz=UTC], non-nullable) with `timestampMs`
 * (epoch milliseconds, e.g. Date.now()) on every row. Batches with the same input schema object
 * get the same output schema object. Costs one fill of 8 bytes per row. `values`, if given, is
 * the column's memory (numRows long; filled here), e.g. scratch space reused between flushes.
 */
export function withIngestedAt (batch: RecordBatch, timestampMs: number, values?: BigInt64Array): RecordBatch {
  let out = ingestedSchemas.get(batch.schema)
  if (out === undefined) {
    out = new Schema([...batch.schema.fields, INGESTED_AT_FIELD], batch.schema.metadata)
    ingestedSchemas.set(batch.schema, out)
  }
  const n = batch.numRows
  const data = (values ?? new BigInt64Array(n)).fill(BigInt(Math.round(timestampMs * 1000)))
  const col = makeData({ type: INGESTED_AT_TYPE, length: n, nullCount: 0, data })
  return batchOf(out, [...batch.data.children, col], n)
}

const TWO32 = 4294967296
const SCALE: Record<number, { mul: number, div: number }> = {
  [TimeUnit.SECOND]: { mul: 1_000_000, div: 1 },
  [TimeUnit.MILLISECOND]: { mul: 1000, div: 1 },
  [TimeUnit.NANOSECOND]: { mul: 1, div: 1000 }
}

/**
 * Rescales int64 timestamps, in doubles where that is exact (every timestamp of the next few
 * centuries) and in BigInt otherwise; BigInt on every row would be ~10× slower. Division floors
 * (sub-microsecond digits dropped, also before 1970).
 */
export function rescale (src: BigInt64Array, mul: number, div: number, out: BigInt64Array = new BigInt64Array(src.length)): BigInt64Array {
  const s = new Int32Array(src.buffer, src.byteOffset, src.length * 2)
  const o = new Int32Array(out.buffer, out.byteOffset, out.length * 2)
  const limit = Number.MAX_SAFE_INTEGER / mul
  for (let i = 0, j = 0; i < src.length; i++, j += 2) {
    const hi = s[j + 1]
    let r: number
    if (div === 1) {
      const v = hi * TWO32 + (s[j] >>> 0)
      if (v > limit || v < -limit) { out[i] = BigInt.asIntN(64, src[i] * BigInt(mul)); continue }
      r = v * mul
    } else {
      const hq = Math.floor(hi / div)
      r = hq * TWO32 + Math.floor(((hi - hq * div) * TWO32 + (s[j] >>> 0)) / div)
    }
    const rh = Math.floor(r / TWO32)
    o[j] = (r - rh * TWO32) | 0
    o[j + 1] = rh
  }
  return out
}

function needsCast (t: DataType): boolean {
  if (t.typeId === Type.Timestamp) return (t as Timestamp).unit !== TimeUnit.MICROSECOND
  return (t.children as Field[] | null)?.some(f => needsCast(f.type)) ?? false
}

function castType (t: DataType): DataType {
  if (t.typeId === Type.Timestamp) return new Timestamp(TimeUnit.MICROSECOND, (t as Timestamp).timezone)
  if (!needsCast(t)) return t
  const kids = (t.children as Field[]).map(f => new Field(f.name, castType(f.type), f.nullable, f.metadata))
  return t.typeId === Type.List ? new (t.constructor as new (f: Field) => DataType)(kids[0]) : new Struct(kids)
}

function castData (d: Data, type: DataType, alloc?: (n: number) => BigInt64Array): Data {
  if (d.type === type || !needsCast(d.type)) return d
  if (d.typeId === Type.Timestamp) {
    const { mul, div } = SCALE[(d.type as Timestamp).unit]
    const values = d.values as BigInt64Array
    const buffers = [d.valueOffsets, rescale(values, mul, div, alloc?.(values.length)), d.nullBitmap, d.typeIds]
    return d.clone(type, undefined, undefined, undefined, buffers as never)
  }
  const kids = type.children as Field[]
  return d.clone(type, undefined, undefined, undefined, undefined, d.children.map((c, i) => castData(c, kids[i].type, alloc)))
}

const castSchemas = new WeakMap<Schema, Schema>()

/** The schema castTimestampsToMicros produces (the same object when nothing needs casting). */
export function castSchema (schema: Schema): Schema {
  let out = castSchemas.get(schema)
  if (out === undefined) {
    const fields = schema.fields
    out = fields.some(f => needsCast(f.type))
      ? new Schema(fields.map(f => new Field(f.name, castType(f.type), f.nullable, f.metadata)), schema.metadata)
      : schema
    castSchemas.set(schema, out)
  }
  return out
}

/**
 * Timestamps in s, ms or ns (also inside lists and structs) → microseconds, keeping the time
 * zone: Parquet readers (DuckDB, Spark, Athena) expect microsecond timestamps. Other columns are
 * shared, not copied; a batch without such columns is returned as is. `alloc`, if given, gives
 * the memory of each rescaled column (n values), e.g. scratch reused from one message to the next.
 */
export function castTimestampsToMicros (batch: RecordBatch, alloc?: (n: number) => BigInt64Array): RecordBatch {
  const out = castSchema(batch.schema)
  if (out === batch.schema) return batch
  const fields = out.fields
  return batchOf(out, batch.data.children.map((c, i) => castData(c, fields[i].type, alloc)), batch.numRows)
}

/**
 * 64-bit column memory handed out from one reused buffer until reset(): for values that live
 * only while one message is in hand (a staged request's µs timestamps and `__ingested_at`).
 * A new message's values would otherwise be fresh memory each time, left to the collector.
 */
export class Int64Scratch {
  #buf = new BigInt64Array(0)
  #used = 0

  /** Everything handed out before is free again. */
  reset (): void {
    this.#used = 0
  }

  take (n: number): BigInt64Array {
    if (this.#used + n > this.#buf.length) {
      // Earlier views keep the old buffer alive until they are dropped; the next reset() starts on the new one.
      this.#buf = new BigInt64Array(Math.ceil((this.#used + n) * 1.25))
      this.#used = 0
    }
    const out = this.#buf.subarray(this.#used, this.#used + n)
    this.#used += n
    return out
  }
}
