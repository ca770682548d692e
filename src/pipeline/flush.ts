import type { RecordBatch, Schema } from 'apache-arrow'
import type { ParquetEncoder } from '../parquet/types.ts'
import { InternalError } from '../errors.ts'
import type { BatchEntry } from './batcher.ts'
import type { IngestKey } from './types.ts'
import { IDEMPOTENCY_KEYS } from '../parquet/quiver-metadata.ts'
import { encodeSettings, type Commit } from './commit.ts'
import { castTimestampsToMicros, Int64Scratch, withIngestedAt, writeIpcStreamPaced } from '../arrow/encode.ts'
import { SharedSlabs } from './shared-slabs.ts'
import { EncodeAhead, MIN_CHUNK_BYTES, type Piece } from './encode-ahead.ts'
import { assembleParquetAsync, concatChunks } from '../parquet/assemble.ts'
import { setImmediate as pause } from 'node:timers/promises'

/**
 * Arrow IPC bytes per row group, encoded as one task on one thread. Measured on this machine
 * (test/bench/lib/row-group-size.ts, 2026-12-01): the encode costs the same per byte from 0.5 to
 * 16 MiB parts (41–45 MiB per CPU-second; 0.25 MiB parts ~10 % less), so the size is set by
 * readers and latency: 4 MiB is ~124k rows of the five-column matrix data (DuckDB writes 122,880
 * per group) and ~0.1 s of one thread, the most a durable request waits for a group it shares.
 */
export const ROW_GROUP_BYTES = 4 * 1024 * 1024

export interface FlushPayload {
  /** Batches already normalised to the topic schema. */
  batches: RecordBatch[]
  /** Ingestion time, ms since epoch: the value of `__ingested_at`. */
  at: number
  /** The topic's name, written into every object's footer (parquet/quiver-metadata.ts). */
  topic: string
  /** The topic's createdAt, written there too. */
  createdAt?: string
  /** The partition's directories (`tenant=acme/year=…/hour=HH`), from src/lake/partitioner.ts. */
  dir: string
  /** Gives back the memory behind `batches` once the entry is settled (Pipeline.ingest). */
  release?: () => void
  /** The request's Idempotency-Key, if it has one: named before its object is written. */
  key?: IngestKey
}

export interface PipelineHooks {
  ingested?: (topic: string, rows: number, bytes: number) => void
  flushed?: (topic: string, seconds: number, rows: number) => void
  uploaded?: (seconds: number) => void
  buffered?: (bytes: number) => void
  /** An unreadable object was found under a topic (listed as corrupt, never read). */
  corrupt?: (topic: string) => void
}

export interface PipelineLogger {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

/**
 * Writes one partition's entries as one Parquet object. Rows are encoded as they arrive, in row
 * groups spread over the encoder threads (encode-ahead.ts: `arrived` must be called before the
 * entry joins its batcher); the flush takes the encoded groups of its entries, encodes what is
 * left in parallel, assembles one object (parquet/assemble.ts) and makes one storage write
 * (which retries with backoff itself). Storage failures become StorageUnavailableError for the
 * waiters. Memory in flight: the IPC of each encode is written into a reused shared slab of
 * ~ROW_GROUP_BYTES (one per encode queued or running), and encoded groups wait for their flush.
 */
export function createFlushWriter (o: { encoder: ParquetEncoder, commit: Commit, log: PipelineLogger, flushMaxBytes?: number, held?: (delta: number) => void }) {
  const { encoder, log } = o
  // Room for the encodes in flight plus queued ones (many topics flush at once).
  const slabs = new SharedSlabs(Math.ceil((o.flushMaxBytes ?? 64 * 1024 * 1024) * 1.25) * (encoder.threads + 2))
  // The µs timestamps and `__ingested_at` columns of an encode live only until its IPC is written
  // into its slab, so one scratch serves every encode: rows waiting for their flush hold only the
  // bytes they arrived in (a 40 MiB body of the matrix's five columns would otherwise keep 9 MiB
  // of µs timestamps, outside MAX_BUFFERED_BYTES). The IPC is written in SLICE_MS stretches (a row
  // group may hold tens of thousands of small batches: a body of 200,000 one-row batches held the
  // loop 5 s here), so encodes take turns: one writes its IPC (and uses the scratch) at a time.
  // The encoder threads still overlap: an encode's turn ends once its IPC is in its slab.
  const scratch = new Int64Scratch()
  const take = (n: number): BigInt64Array => scratch.take(n)
  let ipcTurn: Promise<void> = Promise.resolve()
  const encodeBatches = async (topic: string, createdAt: string | undefined, batches: Array<{ batch: RecordBatch, at: number }>, footer?: Record<string, string>): Promise<Uint8Array> => {
    const before = ipcTurn
    let done!: () => void
    ipcTurn = new Promise((resolve) => { done = resolve })
    let written: { ipc: Uint8Array, schema: Schema }
    try {
      await before
      scratch.reset()
      written = await writeIpcStreamPaced(batches, (b) => withIngestedAt(castTimestampsToMicros(b.batch, take), b.at, take(b.batch.numRows)), (n) => slabs.acquire(n))
    } finally {
      done()
    }
    const { ipc, schema } = written
    try {
      const settings = encodeSettings(topic, schema, createdAt)
      return await encoder.encode(ipc, footer === undefined ? settings : { ...settings, metadata: { ...settings.metadata, ...footer } })
    } finally {
      slabs.release(ipc)
    }
  }
  // Single pass over whole entries: when encoding ahead failed, and to find the entries that cannot be encoded (below).
  const encodeEntries = async (list: Array<BatchEntry<FlushPayload>>, footer?: Record<string, string>): Promise<Uint8Array> =>
    await encodeBatches(list[0].payload.topic, list[0].payload.createdAt, list.flatMap((e) => e.payload.batches.map((batch) => ({ batch, at: e.payload.at }))), footer)
  const ahead = new EncodeAhead({
    rowGroupBytes: ROW_GROUP_BYTES,
    minChunkBytes: MIN_CHUNK_BYTES,
    threads: encoder.threads,
    encode: async (pieces: Piece[]) => await encodeBatches(pieces[0].entry.payload.topic, pieces[0].entry.payload.createdAt, pieces.map((p) => ({ batch: p.batch, at: p.entry.payload.at }))),
    held: o.held
  })
  /** The object, and how many of its bytes are a copy made here (counted in `held` until the commit ends). */
  const encodeObject = async (partition: string, entries: Array<BatchEntry<FlushPayload>>, footer?: Record<string, string>): Promise<{ parquet: Uint8Array, copied: number }> => {
    const parts = await ahead.take(partition, entries)
    if (parts.length === 1 && footer === undefined) return { parquet: parts[0], copied: 0 }
    const parquet = concatChunks(await assembleParquetAsync(parts, footer, pause))
    return { parquet, copied: parquet.byteLength }
  }
  /**
   * The flush's rows cannot be encoded together: find the entries that cannot be encoded alone,
   * so that they alone are lost, never the other requests that shared the flush (those are
   * written without them). Throws an error naming exactly the entries that were not written.
   * When every entry encodes alone (no known cause), each is written as an object of its own.
   */
  async function failEntries (topic: string, entries: Array<BatchEntry<FlushPayload>>, err: Error): Promise<void> {
    const bad = new Set<BatchEntry<FlushPayload>>()
    if (entries.length > 1) {
      for (const e of entries) await encodeEntries([e]).catch(() => bad.add(e))
    } else bad.add(entries[0])
    if (bad.size === 0) {
      log.error({ err, topic, rows: entries.reduce((n, e) => n + e.rows, 0) }, 'encoding a Parquet object failed; writing its requests as objects of their own')
      let last: Error | undefined
      for (const e of entries) await write(topic, [e]).catch((err: Error) => { bad.add(e); last = err })
      // A storage failure stays what it is (accepted rows are kept and retried), for its entries only.
      if (last === undefined) return
      throw Object.assign(last, { failed: bad })
    } else {
      const good = entries.filter((e) => !bad.has(e))
      log.error({ err, topic, rows: [...bad].reduce((n, e) => n + e.rows, 0) }, 'encoding a Parquet object failed; those rows are dropped')
      if (good.length > 0) await write(topic, good)
    }
    throw Object.assign(new InternalError(), { retryable: false, failed: bad })
  }
  async function write (topic: string, entries: Array<BatchEntry<FlushPayload>>): Promise<void> {
    const started = performance.now()
    const rows = entries.reduce((n, e) => n + e.rows, 0)
    const keyed = entries.filter((e) => e.payload.key !== undefined)
    // The keys an object commits travel in its footer: the object itself says which requests it holds.
    const footer = keyed.length === 0 ? undefined : { [IDEMPOTENCY_KEYS]: keyed.map((e) => e.payload.key!.footer).join(',') }
    let parquet: Uint8Array
    let copied = 0
    try {
      ({ parquet, copied } = await encodeObject(entries[0].partition, entries, footer))
    } catch (err) {
      // Input validation should make this unreachable. Should the row groups or their assembly
      // fail, the object is encoded once more in one pass, neither encoded ahead nor assembled.
      log.error({ err, topic, rows }, 'encoding a Parquet object from its row groups failed; encoding it in one pass')
      try {
        parquet = await encodeEntries(entries, footer)
      } catch (err) {
        return await failEntries(topic, entries, err as Error)
      }
    }
    const dir = entries[0].payload.dir
    // Each key's claim names the object before it exists: after a crash, the object's presence
    // alone tells a retry whether these rows were committed (README "Exactly-once retries").
    const before = keyed.length === 0 ? undefined : async (key: string) => { await Promise.all(keyed.map((e) => e.payload.key!.naming(key, dir))) }
    o.held?.(copied)
    try {
      await o.commit(topic, dir, parquet, { rows, started, before, topicCreatedAt: entries[0].payload.createdAt })
    } finally {
      o.held?.(-copied)
    }
  }
  return {
    write,
    /** Before the entry joins its batcher: its rows start encoding as row groups fill. */
    arrived: (entry: BatchEntry<FlushPayload>) => ahead.add(entry),
    /** The entry was committed or dropped: no encoded group may carry its rows again. */
    settled: (entry: BatchEntry<FlushPayload>) => ahead.forget(entry)
  }
}
