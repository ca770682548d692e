import type { RecordBatch, Schema } from 'apache-arrow'
import { IPC_END, IpcPieces } from '../arrow/encode.ts'
import { ParquetAssembler } from '../parquet/assemble.ts'
import { setImmediate as pause } from 'node:timers/promises'
import type { ParquetEncoder } from '../parquet/types.ts'
import { SharedSlabs } from './shared-slabs.ts'
import { batchBytes } from './pipeline.ts'
import { ROW_GROUP_BYTES } from './flush.ts'
import { leafColumns, MIN_CHUNK_BYTES } from './encode-ahead.ts'

/**
 * IPC slabs of the row groups being filled or encoded when the caller gives none (the gateway
 * gives slabs kept within MAX_BUFFERED_BYTES, src/ingest/service.ts): kept up to 64 MiB, dropped
 * after 10 s idle (see SharedSlabs). Slabs are asked for with their room (stagedSlabBytes).
 */
const defaultSlabs = new SharedSlabs(64 * 1024 * 1024, 10_000, 1)

export interface RowGroupStreamOptions {
  /** The encoder threads (the pool every flush uses); these encodes run in the background (pool.ts). */
  encoder: ParquetEncoder
  /** Schema of every batch written (with `__ingested_at`, timestamps in µs). */
  schema: Schema
  /** Writer settings of the topic's objects (commit.ts encodeSettings), the request's key in `metadata`. */
  dictionaryColumns?: readonly string[]
  metadata?: Record<string, string>
  /** Arrow IPC bytes per row group; default stagedGroupBytes(schema). */
  rowGroupBytes?: number
  /** Row groups encoding or encoded and not yet taken by the output; default threads + 2. */
  window?: number
  /** Where the groups' IPC slabs come from (and go back to); default one set shared by every stream. */
  slabs?: SharedSlabs
}

interface Open { slab: Uint8Array, used: number, rows: number }

/** The most IPC bytes a staged request's row group takes, however wide its schema. */
export const STAGED_MAX_GROUP_BYTES = 16 * 1024 * 1024

/**
 * A staged request's row groups: as buffered rows' (ROW_GROUP_BYTES, or MIN_CHUNK_BYTES a column
 * for schemas over 128 columns), up to STAGED_MAX_GROUP_BYTES: `window` + 1 of them are in memory
 * at once, so a very wide schema's groups are bounded (16 MiB: 512 columns and more) instead.
 */
export function stagedGroupBytes (schema: Schema): number {
  return Math.min(STAGED_MAX_GROUP_BYTES, Math.max(ROW_GROUP_BYTES, leafColumns(schema) * MIN_CHUNK_BYTES))
}

/** The IPC slab a row group of `groupBytes` is filled in: room for estimates that fall short. */
export function stagedSlabRequest (groupBytes: number): number {
  return Math.ceil(groupBytes * 1.25)
}

/**
 * What a stream of `groupBytes` row groups and `window` groups in flight holds at most, in slabs
 * taken from `slabs`: the group being filled plus `window` encoding or encoded (an encoded group's
 * Parquet bytes replace its slab and are smaller). The staging reservation (src/ingest/service.ts).
 */
export function stagedWindowBytes (groupBytes: number, window: number, slabs: SharedSlabs = defaultSlabs): number {
  return (window + 1) * slabs.sizeFor(stagedSlabRequest(groupBytes))
}

/** What RowGroupStream.write does to each slice of a batch before copying it (see there). */
export interface Shape {
  /** The slice's rows as written; its memory may be reused once the next slice is shaped. */
  rows: (slice: RecordBatch) => RecordBatch
  /** Bytes a row gains (e.g. 8 for an added int64 column). */
  extraPerRow: number
}

/**
 * One Parquet object for a request too large to hold (src/ingest/large-request.ts), on the path
 * buffered rows take (src/pipeline/encode-ahead.ts): rows are cut into row groups of
 * ~rowGroupBytes of IPC as they are written, every full group is encoded at once by a free
 * encoder thread (several at a time, so a staged request uses every core), and output() streams
 * the object in order, assembled from the encoded groups (src/parquet/assemble.ts: their column
 * data as is, then one footer listing them all).
 *
 * Memory, whatever the body and batch sizes: the group being filled (one slab of ~rowGroupBytes,
 * each batch copied into it as written), plus at most `window` groups encoding or encoded and
 * waiting for the upload (the IPC slab until its encode ends, then its Parquet bytes, a third to
 * a half of that with ZSTD), plus the footer entries (~1 KiB a group): stagedWindowBytes. write()
 * waits while the window is full: the upload's pace is the request's.
 *
 * The caller ends with end() and reads output() to its end, or calls destroy() to abandon it.
 */
export class RowGroupStream {
  #o: Required<Omit<RowGroupStreamOptions, 'dictionaryColumns' | 'metadata' | 'slabs'>> & Pick<RowGroupStreamOptions, 'dictionaryColumns' | 'metadata'>
  #slabs: SharedSlabs
  #pieces: IpcPieces
  #open: Open | null = null
  /** Encoded (or encoding) groups in order, not yet taken by output(). */
  #parts: Array<Promise<Uint8Array>> = []
  #rowsIn = 0
  #rows: number | null = null
  #ended = false
  #error: Error | null = null
  #wakers: Array<() => void> = []

  constructor (o: RowGroupStreamOptions) {
    this.#o = { rowGroupBytes: stagedGroupBytes(o.schema), window: o.encoder.threads + 2, ...o }
    this.#slabs = o.slabs ?? defaultSlabs
    this.#pieces = new IpcPieces(o.schema)
  }

  /** Rows in the finished object (once output() has ended). */
  get rows (): number | null { return this.#rows }

  /**
   * Copies the batch's rows into row groups (the batch's buffers may be reused as soon as this
   * resolves); waits while `window` groups are encoding or waiting for the output.
   *
   * `shape`, if given, turns each slice of the batch into the rows written (of this stream's
   * schema) just before they are copied, and `shape.extraPerRow` says how many bytes a row gains
   * on the way: a staged request's timestamp casts and `__ingested_at` then take memory for one
   * group's rows at a time (reused from slice to slice), not for the whole message.
   */
  async write (batch: RecordBatch, shape?: Shape): Promise<void> {
    if (this.#error) throw this.#error
    if (batch.numRows === 0) return
    const perRow = Math.max(1, batchBytes(batch) / batch.numRows + (shape?.extraPerRow ?? 0))
    for (let at = 0; at < batch.numRows;) {
      const open = this.#open ??= this.#start()
      const room = Math.max(1, Math.ceil((this.#o.rowGroupBytes - open.used) / perRow))
      const n = Math.min(room, batch.numRows - at)
      const slice = at === 0 && n === batch.numRows ? batch : batch.slice(at, at + n)
      // A large message is copied in steps (IpcPieces.write): destroy() may come between them.
      try {
        await this.#pieces.write(shape === undefined ? slice : shape.rows(slice), (size) => this.#room(open, size), () => this.#open === open)
      } catch (err) {
        throw this.#error ?? err
      }
      if (this.#error) throw this.#error // destroyed while a small message was written (one await)
      open.rows += n
      this.#rowsIn += n
      at += n
      if (open.used >= this.#o.rowGroupBytes) {
        this.#cut()
        while (this.#parts.length >= this.#o.window && this.#error === null) await this.#sleep()
        if (this.#error) throw this.#error
      }
    }
  }

  /** No more rows: the last group is encoded and output() ends after the footer. */
  end (): void {
    if (this.#error !== null || this.#ended) return
    if (this.#open !== null && this.#open.rows > 0) this.#cut()
    this.#release()
    this.#ended = true
    this.#wake()
  }

  /** The object's bytes, in order, as its groups are encoded; throws if an encode fails or on destroy(). */
  async * output (): AsyncGenerator<Uint8Array> {
    const assembler = new ParquetAssembler()
    yield ParquetAssembler.head
    for (;;) {
      if (this.#error) throw this.#error
      if (this.#parts.length > 0) {
        const part = await this.#parts[0]
        if (this.#error) throw this.#error
        const data = assembler.add(part)
        this.#parts.shift()
        this.#wake()
        yield data
      } else if (this.#ended) {
        break
      } else {
        await this.#sleep()
      }
    }
    if (this.#rowsIn === 0) throw new Error('a staged object needs at least one row')
    // The encoder skipping rows would be silent data loss: the footers must count every row written.
    if (assembler.rows !== this.#rowsIn) throw new Error(`the Parquet encoder wrote ${assembler.rows} of ${this.#rowsIn} rows`)
    // The footer a row group at a time, the event loop free between them (wide schemas: ~20 µs a column chunk).
    for (const bytes of assembler.finishSteps()) {
      yield bytes
      await pause()
    }
    this.#rows = assembler.rows
  }

  /** Abandons the object: waiting write()/output() throw `err`; encodes in flight finish and are dropped. */
  destroy (err: Error): void {
    if (this.#error === null && this.#rows === null) this.#error = err
    this.#release()
    this.#parts = []
    this.#wake()
  }

  /** A new group: a slab with the schema message at its start. */
  #start (): Open {
    const slab = this.#slabs.acquire(stagedSlabRequest(this.#o.rowGroupBytes))
    slab.set(this.#pieces.head)
    return { slab, used: this.#pieces.head.byteLength, rows: 0 }
  }

  /** `size` bytes at the end of the open group (its slab grows if an estimate fell short). */
  #room (open: Open, size: number): Uint8Array {
    const need = open.used + size + IPC_END.byteLength
    if (need > open.slab.byteLength) {
      const bigger = this.#slabs.acquire(Math.ceil(need * 1.25))
      bigger.set(open.slab.subarray(0, open.used))
      this.#slabs.release(open.slab)
      open.slab = bigger
    }
    const out = open.slab.subarray(open.used, open.used + size)
    open.used += size
    return out
  }

  #cut (): void {
    const open = this.#open!
    this.#open = null
    open.slab.set(IPC_END, open.used)
    const ipc = open.slab.subarray(0, open.used + IPC_END.byteLength)
    const { dictionaryColumns, metadata } = this.#o
    const part = this.#o.encoder.encode(ipc, { dictionaryColumns, metadata, background: true })
    // The slab is read in place by the encoder thread: reused only once that encode has ended.
    const slabs = this.#slabs
    part.then(() => slabs.release(open.slab), (err: unknown) => {
      slabs.release(open.slab)
      if (this.#error === null && this.#rows === null) this.#error = err as Error
    }).finally(() => this.#wake())
    part.catch(() => {}) // surfaces through output() (#error); never an unhandled rejection
    this.#parts.push(part)
  }

  #release (): void {
    if (this.#open !== null) this.#slabs.release(this.#open.slab)
    this.#open = null
  }

  #sleep (): Promise<void> {
    return new Promise((resolve) => this.#wakers.push(resolve))
  }

  #wake (): void {
    for (const w of this.#wakers.splice(0)) w()
  }
}
