import type { RecordBatch, Schema } from 'apache-arrow'
import type { Config } from '../../config/schema.ts'
import type { Storage } from '../storage/types.ts'
import type { ParquetEncoder } from '../parquet/types.ts'
import type { TopicRecord } from '../schema/topic-schema.ts'
import type { AckMode, IngestResult, Pipeline, PipelineStats, TopicBufferStats } from './types.ts'
import { OverloadedError, ShuttingDownError } from '../errors.ts'
import { partitionPrefix } from '../keys.ts'
import { Batcher, type BatchEntry } from './batcher.ts'
import { CommittedIndex, type CommittedFile, type CommittedSummary } from './committed.ts'
import { createFlushWriter, type FlushPayload, type PipelineHooks, type PipelineLogger } from './flush.ts'

export type { PipelineHooks, PipelineLogger } from './flush.ts'

export interface PipelineOptions {
  config: Pick<Config, 'FLUSH_INTERVAL_MS' | 'FLUSH_MAX_BYTES' | 'MAX_BUFFERED_BYTES'>
  storage: Storage
  encoder: ParquetEncoder
  hooks?: PipelineHooks
  logger?: PipelineLogger
  /** Clock (ms since epoch) for `__ingested_at` and partitions; tests move it across an hour. */
  now?: () => number
  retryDelayMs?: (failures: number) => number
}

/** The Pipeline plus the read-side queries the routes need. */
export interface QuiverPipeline extends Pipeline {
  /** Committed objects of a topic, from a fresh listing (sorted by key = by time). */
  files (topic: string): Promise<CommittedFile[]>
  /** Buffered counters plus committed stats from a fresh listing. */
  topicStats (topic: string): Promise<TopicBufferStats>
  /** Counts an object a request too large to buffer wrote itself (src/pipeline/large-request.ts). */
  recordCommitted (topic: string, file: CommittedFile, o: { requestBytes: number, seconds: number }): void
  readonly storage: Storage
}

type Listener = (batch: RecordBatch, schema: Schema) => void

const noopLog: PipelineLogger = { info () {}, warn () {}, error () {} }

/** Bytes an Arrow batch holds in memory (its buffers, children included). */
export function batchBytes (batch: RecordBatch): number {
  let n = 0
  const walk = (d: { buffers: ArrayLike<unknown>, children: unknown[] }): void => {
    for (const b of d.buffers as unknown as Array<ArrayBufferView | undefined>) n += b?.byteLength ?? 0
    for (const c of d.children) walk(c as typeof d)
    const dict = (d as { dictionary?: { data: Array<typeof d> } }).dictionary
    if (dict) for (const dd of dict.data) walk(dd)
  }
  walk(batch.data as unknown as { buffers: ArrayLike<unknown>, children: unknown[] })
  return n
}

export function createPipeline (opts: PipelineOptions): QuiverPipeline {
  const { config, storage } = opts
  const hooks = opts.hooks ?? {}
  const log = opts.logger ?? noopLog
  const now = opts.now ?? Date.now
  const index = new CommittedIndex(storage)
  const batchers = new Map<string, Batcher<FlushPayload>>()
  const listeners = new Map<string, Set<Listener>>()
  const capacityWaiters: Array<() => void> = []
  let buffered = 0
  let closing = false

  const release = (bytes: number): void => {
    buffered -= bytes
    hooks.buffered?.(buffered)
    while (buffered < config.MAX_BUFFERED_BYTES && capacityWaiters.length > 0) capacityWaiters.shift()!()
  }

  const write = createFlushWriter({ storage, encoder: opts.encoder, index, hooks, log, flushMaxBytes: config.FLUSH_MAX_BYTES })

  function batcherOf (topic: string): Batcher<FlushPayload> {
    let b = batchers.get(topic)
    if (!b) {
      b = new Batcher<FlushPayload>({
        intervalMs: config.FLUSH_INTERVAL_MS,
        maxBytes: config.FLUSH_MAX_BYTES,
        retryDelayMs: opts.retryDelayMs,
        maxInFlight: Math.max(1, opts.encoder.threads),
        // Topics fed from the same moment would otherwise all flush at once, forever.
        desync: () => Math.random() * 0.5,
        write: (_partition, entries) => write(topic, entries),
        onSettled: (entry) => {
          release(entry.bytes)
          entry.payload.release?.()
        }
      })
      batchers.set(topic, b)
      // Learn what earlier runs committed, off the request path.
      index.refresh(topic).catch((err: Error) => log.warn({ err, topic }, 'listing committed objects failed'))
    }
    return b
  }

  async function ingest (topic: TopicRecord, batches: RecordBatch[], o: { ack: AckMode, bytes: number, release?: () => void }): Promise<IngestResult> {
    const rows = batches.reduce((n, b) => n + b.numRows, 0)
    const result: IngestResult = { rows, batches: batches.length }
    const size = Math.max(1, batches.reduce((n, b) => n + batchBytes(b), 0))
    try {
      if (closing) throw new ShuttingDownError()
      // An empty gateway takes even an oversized request: refusing it would refuse it forever.
      if (rows > 0 && buffered > 0 && buffered + size > config.MAX_BUFFERED_BYTES) throw new OverloadedError()
    } catch (err) {
      o.release?.()
      throw err
    }
    if (rows === 0) {
      o.release?.()
      return result
    }
    const at = now()
    const entry: BatchEntry<FlushPayload> = {
      payload: { batches, at, release: o.release },
      rows,
      bytes: size,
      // createdAt keeps a deleted-and-recreated topic's batches out of the old schema's object.
      partition: `${partitionPrefix(topic.name, new Date(at))}@${topic.createdAt}`,
      retain: o.ack === 'accepted'
    }
    buffered += size
    hooks.buffered?.(buffered)
    hooks.ingested?.(topic.name, rows, o.bytes)
    const committed = batcherOf(topic.name).add(entry)
    const subs = listeners.get(topic.name)
    if (subs) {
      for (const b of batches) {
        for (const l of subs) {
          try { l(b, b.schema) } catch (err) { log.warn({ err, topic: topic.name }, 'tail listener failed') }
        }
      }
    }
    if (o.ack === 'accepted') {
      committed.catch(() => {}) // failures of acknowledged data are retried and logged by the writer
      return result
    }
    await committed
    return result
  }

  function topicStats (name: string, committed: CommittedSummary): TopicBufferStats {
    const b = batchers.get(name)
    return {
      bufferedRows: b?.bufferedRows ?? 0,
      bufferedBytes: b?.bufferedBytes ?? 0,
      committedRows: committed.rows,
      committedBytes: committed.bytes,
      files: committed.files,
      lastFlushAt: committed.lastFlushAt
    }
  }

  async function flushAll (): Promise<void> {
    const results = await Promise.allSettled([...batchers.values()].map((b) => b.flush()))
    const failed = results.find((r) => r.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
  }

  return {
    storage,
    ingest,
    hasCapacity: () => buffered < config.MAX_BUFFERED_BYTES,
    waitForCapacity: () => buffered < config.MAX_BUFFERED_BYTES ? Promise.resolve() : new Promise<void>((resolve) => capacityWaiters.push(resolve)),
    flushAll,
    subscribe (topic, listener) {
      let subs = listeners.get(topic)
      if (!subs) { subs = new Set(); listeners.set(topic, subs) }
      subs.add(listener)
      return () => { subs.delete(listener) }
    },
    stats (): PipelineStats {
      const topics: Record<string, TopicBufferStats> = {}
      for (const name of batchers.keys()) topics[name] = topicStats(name, index.summary(name))
      return { bufferedBytes: buffered, topics }
    },
    async topicStats (name) {
      await index.refresh(name)
      return topicStats(name, index.summary(name))
    },
    files: (name) => index.refresh(name),
    recordCommitted (topic, file, o) {
      batcherOf(topic) // listed in stats() like any topic written to
      index.add(topic, file)
      hooks.ingested?.(topic, file.rows, o.requestBytes)
      hooks.flushed?.(topic, o.seconds, file.rows)
    },
    async close () {
      closing = true
      // Acknowledged rows must reach storage: retry a few times before giving up on them.
      for (let attempt = 1; ; attempt++) {
        try {
          await flushAll()
          break
        } catch (err) {
          if (attempt >= 3) {
            log.error({ err }, 'closing with rows that could not be written')
            break
          }
          await new Promise((resolve) => setTimeout(resolve, 500 * attempt))
        }
      }
      for (const b of batchers.values()) b.close(new ShuttingDownError())
      for (const w of capacityWaiters.splice(0)) w()
    }
  }
}
