import type { DataType, RecordBatch, Schema } from 'apache-arrow'
import type { BatchEntry } from './batcher.ts'

/** What encode-ahead needs of an entry's payload (FlushPayload in flush.ts). */
export interface AheadPayload { batches: RecordBatch[], at: number, topic: string, createdAt?: string }
type Entry = BatchEntry<AheadPayload>

/** Rows of one entry as they arrived (a view), handed to one row-group encode. */
export interface Piece {
  entry: Entry
  batch: RecordBatch
  bytes: number
}

interface Group {
  pieces: Piece[]
  entries: Set<Entry>
  /** One Parquet file holding exactly these pieces' rows (parts of an object, see assemble.ts). */
  parquet: Promise<Uint8Array>
  start: () => void
  /** Undone before it started: it never will. */
  cancelled: boolean
  /** Its encoded bytes, counted in `held` from the encode's end until the group is dropped. */
  counted: number
}

/**
 * The least IPC bytes a row group gives each of its columns. Every column chunk costs its part's
 * footer entry and page indexes, and the flush's assembly reads and writes them again (~40 µs a
 * column chunk on the event loop): 4 MiB groups of 10,000 columns (400 bytes a column) made a
 * 41 MB flush ten parts and 100,000 column chunks to assemble, 4.4 s of main thread. At 32 KiB a
 * column, schemas of up to 128 columns keep ROW_GROUP_BYTES; a 10,000-column flush is one group.
 */
export const MIN_CHUNK_BYTES = 32 * 1024

const leafCounts = new WeakMap<Schema, number>()
/** Parquet columns (leaves) of a schema. */
export function leafColumns (schema: Schema): number {
  let n = leafCounts.get(schema)
  if (n === undefined) {
    const leaves = (t: DataType): number => (t.children?.length ?? 0) === 0 ? 1 : t.children.reduce((k, c) => k + leaves(c.type), 0)
    n = schema.fields.reduce((k, f) => k + leaves(f.type), 0)
    leafCounts.set(schema, n)
  }
  return n
}

/** A partition's rows not yet in a group. */
interface Acc { pieces: Piece[], bytes: number }

export interface EncodeAheadOptions {
  /**
   * Arrow IPC bytes per row group (see ROW_GROUP_BYTES in flush.ts for the measured choice); more
   * for wide schemas (`minChunkBytes`).
   */
  rowGroupBytes: number
  /** The least bytes a group gives each column (MIN_CHUNK_BYTES in the gateway); default none. */
  minChunkBytes?: number
  /** Encoder threads: below this many encodes in flight, a waiting durable request starts its group early. */
  threads: number
  /** Encodes pieces (in this order) as one Parquet file, on an encoder thread. */
  encode: (pieces: Piece[]) => Promise<Uint8Array>
  /**
   * Encoded bytes kept for a later flush: +n when a group's encode ends, -n when the group is
   * dropped (its entries settled, or undone to be encoded again). They count in MAX_BUFFERED_BYTES.
   */
  held?: (delta: number) => void
}

/**
 * Encode on arrival, commit on flush. Per partition, arriving rows are cut into row groups of
 * about `rowGroupBytes`; each full group is encoded at once on whichever encoder thread is free
 * (the pool queues the rest), and so is a smaller one (≥ 1/8 of a group) when a durable request
 * is waiting and a thread is idle: it would otherwise wait for the window to close and then for
 * every row of the flush to be encoded. At flush, `take` returns the Parquet parts covering
 * exactly the flushed entries, encoding only what is left (in parallel groups too); the flush
 * assembles them into one object (src/parquet/assemble.ts). Nothing is acknowledged here: acks
 * still wait for the object's commit.
 *
 * Memory: a group holds slices (views) of its entries' batches, which the pipeline holds anyway
 * until they are committed, plus its encoded bytes (a third to a half of the IPC bytes with
 * ZSTD), which are reported through `held` so that MAX_BUFFERED_BYTES bounds both. The IPC
 * stream of an encode in flight is one slab of ~rowGroupBytes per thread plus the queue (see flush.ts).
 */
export class EncodeAhead {
  #o: EncodeAheadOptions
  #open = new Map<string, Acc>()
  #groups = new Map<Entry, Group[]>()
  #running = 0
  #queue: Group[] = []

  constructor (o: EncodeAheadOptions) {
    this.#o = o
  }

  /** Encodes in flight (for tests and metrics). */
  get running (): number { return this.#running }

  add (entry: Entry): void {
    const acc = this.#accOf(entry.partition)
    const perRow = entry.bytes / Math.max(1, entry.rows)
    const groupBytes = entry.payload.batches.length === 0 ? this.#o.rowGroupBytes : this.#groupBytes(entry.payload.batches[0].schema)
    for (const batch of entry.payload.batches) {
      for (let at = 0; at < batch.numRows;) {
        const room = Math.max(1, Math.ceil((groupBytes - acc.bytes) / perRow))
        const n = Math.min(room, batch.numRows - at)
        const piece = at === 0 && n === batch.numRows ? batch : batch.slice(at, at + n)
        acc.pieces.push({ entry, batch: piece, bytes: n * perRow })
        acc.bytes += n * perRow
        at += n
        if (acc.bytes >= groupBytes) this.#cut(acc)
      }
    }
    if (!entry.retain && this.#running < this.#o.threads && acc.bytes >= groupBytes / 8) this.#cut(acc)
  }

  /**
   * The Parquet parts holding exactly `entries`' rows (one partition's flush), in arrival order
   * as far as groups allow. Groups that also hold rows of other entries are not used: their
   * pieces of other entries go back to be encoded again later.
   */
  async take (partition: string, entries: Entry[]): Promise<Uint8Array[]> {
    const want = new Set(entries)
    const order = new Map(entries.map((e, i) => [e, i]))
    const usable = new Set<Group>()
    const rest: Piece[] = []
    const acc = this.#accOf(partition)
    for (const e of entries) {
      for (const g of this.#groups.get(e) ?? []) {
        if (usable.has(g)) continue
        if ([...g.entries].every((x) => want.has(x))) usable.add(g)
        else this.#split(g, want, rest, acc)
      }
    }
    const kept = acc.pieces.filter((p) => !want.has(p.entry))
    for (const p of acc.pieces) if (want.has(p.entry)) rest.push(p)
    acc.pieces = kept
    acc.bytes = kept.reduce((n, p) => n + p.bytes, 0)
    rest.sort((a, b) => order.get(a.entry)! - order.get(b.entry)!)
    const tail: Acc = { pieces: [], bytes: 0 }
    for (const p of rest) {
      tail.pieces.push(p)
      tail.bytes += p.bytes
      if (tail.bytes >= this.#groupBytes(p.batch.schema)) usable.add(this.#cut(tail))
    }
    if (tail.pieces.length > 0) usable.add(this.#cut(tail))
    // The flush waits for these: queued ones go to the front of the queue, in row order, and
    // start as threads free up. Starting them all here would build every group's IPC in this one
    // task (~10-30 ms each, many topics flush on the same tick: event-loop stalls of 200-300 ms
    // measured with 1,000 producers) and hold a slab for each before a thread can read it.
    const first = (g: Group) => { let i = Infinity; for (const e of g.entries) i = Math.min(i, order.get(e)!); return i }
    const groups = [...usable].sort((a, b) => first(a) - first(b))
    const waiting = groups.filter((g) => this.#queue.includes(g))
    if (waiting.length > 0) {
      this.#queue = [...waiting, ...this.#queue.filter((g) => !usable.has(g))]
      this.#pump()
    }
    return await Promise.all(groups.map((g) => g.parquet))
  }

  /**
   * The entry left for good (committed, or dropped and answered with an error): no group may
   * carry its rows into a later object. Groups it shares with entries still buffered are undone
   * and those entries' pieces wait to be encoded again.
   */
  forget (entry: Entry): void {
    const acc = this.#accOf(entry.partition)
    for (const g of this.#groups.get(entry) ?? []) {
      // Its batches' memory may be reused from now on: a group not started yet never starts.
      if (g.entries.size > 1) this.#split(g, new Set([entry]), [], acc)
      else this.#drop(g)
    }
    this.#groups.delete(entry)
    if (acc.pieces.some((p) => p.entry === entry)) {
      acc.pieces = acc.pieces.filter((p) => p.entry !== entry)
      acc.bytes = acc.pieces.reduce((n, p) => n + p.bytes, 0)
    }
    if (acc.pieces.length === 0) this.#open.delete(entry.partition)
  }

  /** Bytes a row group of this schema is cut at: rowGroupBytes, or minChunkBytes a column if more. */
  #groupBytes (schema: Schema): number {
    return Math.max(this.#o.rowGroupBytes, leafColumns(schema) * (this.#o.minChunkBytes ?? 0))
  }

  #accOf (partition: string): Acc {
    let acc = this.#open.get(partition)
    if (acc === undefined) this.#open.set(partition, acc = { pieces: [], bytes: 0 })
    return acc
  }

  #cut (acc: Acc): Group {
    const pieces = acc.pieces.splice(0)
    acc.bytes = 0
    let start!: () => void
    const parquet = new Promise<Uint8Array>((resolve, reject) => {
      start = () => {
        this.#running++
        this.#o.encode(pieces).then((bytes) => {
          // Undone while it ran: nobody will take these bytes, they are garbage already.
          if (!g.cancelled) {
            g.counted = bytes.byteLength
            this.#o.held?.(g.counted)
          }
          resolve(bytes)
        }, reject).finally(() => {
          this.#running--
          this.#pump()
        })
      }
    })
    parquet.catch(() => {}) // awaited by take(); a group nobody takes must not be an unhandled rejection
    const g: Group = { pieces, entries: new Set(pieces.map((p) => p.entry)), parquet, start, cancelled: false, counted: 0 }
    this.#queue.push(g)
    this.#pump()
    for (const e of g.entries) {
      const list = this.#groups.get(e)
      if (list) list.push(g)
      else this.#groups.set(e, [g])
    }
    return g
  }

  /**
   * Starts queued groups while fewer than threads + 1 encodes run: the pool always has the next
   * group's IPC ready, and the IPC copies in memory stay at (threads + 1) × rowGroupBytes however
   * many groups wait (those hold only views of batches the pipeline keeps anyway).
   */
  #pump (): void {
    while (this.#running <= this.#o.threads && this.#queue.length > 0) {
      const g = this.#queue.shift()!
      if (!g.cancelled) g.start()
    }
  }

  /** Undoes a group: pieces of `want` entries go to `rest`, the others back to the front of `acc`. */
  #split (g: Group, want: Set<Entry>, rest: Piece[], acc: Acc): void {
    this.#drop(g)
    for (const e of g.entries) {
      const list = this.#groups.get(e)?.filter((x) => x !== g)
      if (list && list.length > 0) this.#groups.set(e, list)
      else this.#groups.delete(e)
    }
    const back = g.pieces.filter((p) => !want.has(p.entry))
    // No spreading into calls: a group of one-row messages has tens of thousands of pieces.
    for (const p of g.pieces) if (want.has(p.entry)) rest.push(p)
    acc.pieces = back.concat(acc.pieces)
    acc.bytes += back.reduce((n, p) => n + p.bytes, 0)
  }

  /** The group will never be used: it does not start, and its encoded bytes stop counting. */
  #drop (g: Group): void {
    g.cancelled = true
    if (g.counted > 0) this.#o.held?.(-g.counted)
    g.counted = 0
  }
}
