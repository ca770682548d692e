import type { RecordBatch } from 'apache-arrow'
import type { Storage } from '../storage/types.ts'
import type { ParquetEncoder } from '../parquet/types.ts'
import { InternalError, StorageUnavailableError } from '../errors.ts'
import { newObjectId, objectKey } from '../keys.ts'
import { dictionaryColumnsOf } from '../parquet/dictionary.ts'
import type { BatchEntry } from './batcher.ts'
import type { CommittedIndex } from './committed.ts'
import { castTimestampsToMicros, withIngestedAt, writeIpcStream } from '../arrow/encode.ts'
import { SharedSlabs } from './shared-slabs.ts'

export interface FlushPayload {
  /** Batches already normalised to the topic schema. */
  batches: RecordBatch[]
  /** Ingestion time, ms since epoch: the value of `__ingested_at` and the partition. */
  at: number
  /** Gives back the memory behind `batches` once the entry is settled (Pipeline.ingest). */
  release?: () => void
}

export interface PipelineHooks {
  ingested?: (topic: string, rows: number, bytes: number) => void
  flushed?: (topic: string, seconds: number, rows: number) => void
  uploaded?: (seconds: number) => void
  uploadFailed?: () => void
  buffered?: (bytes: number) => void
}

export interface PipelineLogger {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

/**
 * Writes one partition's entries as one Parquet object: `__ingested_at` per entry, one IPC stream,
 * encoded in the worker pool, then one storage write (which retries with backoff itself).
 * Storage failures become StorageUnavailableError for the waiters.
 */
export function createFlushWriter (o: { storage: Storage, encoder: ParquetEncoder, index: CommittedIndex, hooks: PipelineHooks, log: PipelineLogger, flushMaxBytes?: number }) {
  const { storage, encoder, index, hooks, log } = o
  // Room for the flushes in flight plus the next one's IPC (many topics flush at once).
  const slabs = new SharedSlabs(Math.ceil((o.flushMaxBytes ?? 64 * 1024 * 1024) * 1.25) * (encoder.threads + 2))
  // The `__ingested_at` columns live only until writeIpcStream has copied them (synchronously,
  // before any await), so one scratch array serves every flush.
  let scratch = new BigInt64Array(0)
  const encodeEntries = async (list: Array<BatchEntry<FlushPayload>>, dictionaryColumns: string[]): Promise<Uint8Array> => {
    const rows = list.reduce((n, e) => n + e.rows, 0)
    if (scratch.length < rows) scratch = new BigInt64Array(Math.ceil(rows * 1.25))
    let at = 0
    const batches = list.flatMap((e) => e.payload.batches.map((b) => {
      const values = scratch.subarray(at, at + b.numRows)
      at += b.numRows
      return withIngestedAt(castTimestampsToMicros(b), e.payload.at, values)
    }))
    const ipc = writeIpcStream(batches, batches[0].schema, (n) => slabs.acquire(n))
    try {
      return await encoder.encode(ipc, { dictionaryColumns })
    } finally {
      slabs.release(ipc)
    }
  }
  return async function write (topic: string, entries: Array<BatchEntry<FlushPayload>>): Promise<void> {
    const started = performance.now()
    const rows = entries.reduce((n, e) => n + e.rows, 0)
    const dictionaryColumns = dictionaryColumnsOf(entries[0].payload.batches[0].schema)
    let parquet: Uint8Array
    try {
      parquet = await encodeEntries(entries, dictionaryColumns)
    } catch (err) {
      // Input validation should make this unreachable. If it happens, find the entries that cannot
      // be encoded so they alone are lost, never the other requests that shared the flush.
      const bad = new Set<BatchEntry<FlushPayload>>()
      if (entries.length > 1) {
        for (const e of entries) await encodeEntries([e], dictionaryColumns).catch(() => bad.add(e))
      } else bad.add(entries[0])
      const good = entries.filter((e) => !bad.has(e))
      const lost = [...bad].reduce((n, e) => n + e.rows, 0)
      log.error({ err, topic, rows: lost }, 'encoding a Parquet object failed; those rows are dropped')
      const failure = Object.assign(new InternalError(), { retryable: false, failed: bad })
      if (good.length === 0 || bad.size === 0) throw failure
      await write(topic, good)
      throw failure
    }
    const key = objectKey(topic, new Date(entries[0].payload.at), newObjectId())
    const uploadStart = performance.now()
    try {
      await storage.put(key, parquet)
    } catch (err) {
      hooks.uploadFailed?.()
      log.error({ err, topic, key, rows }, 'writing a Parquet object failed')
      throw new StorageUnavailableError()
    }
    const end = performance.now()
    hooks.uploaded?.((end - uploadStart) / 1000)
    hooks.flushed?.(topic, (end - started) / 1000, rows)
    index.add(topic, { key, bytes: parquet.byteLength, rows, createdAt: new Date().toISOString() })
    log.info({ topic, key, rows, bytes: parquet.byteLength, ms: Math.round(end - started) }, 'flushed')
  }
}
