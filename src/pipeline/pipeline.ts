import type { RecordBatch, Schema } from 'apache-arrow'
import type { Config } from '../../config/schema.ts'
import type { Storage } from '../storage/types.ts'
import type { ParquetEncoder } from '../parquet/types.ts'
import type { TopicRecord } from '../schema/topic-schema.ts'
import type { AckMode, IngestKey, IngestResult, Pipeline, PipelineStats, TopicBufferStats } from './types.ts'
import { OverloadedError, ShuttingDownError } from '../errors.ts'
import { partitionBatches, partitionBatchesAsync } from '../lake/partitioner.ts'
import { isArrivalHourly, specOf } from '../lake/partition-spec.ts'
import { Slicer } from '../arrow/json-slices.ts'
import { systemClock, type Clock } from '../clock.ts'
import { Batcher, type BatchEntry } from './batcher.ts'
import { CommittedIndex, ofTopic, type CommittedFile, type CommittedSummary } from '../read/committed.ts'
import { createFlushWriter, type FlushPayload, type PipelineHooks, type PipelineLogger } from './flush.ts'
import { createCommit, type CommitOptions } from './commit.ts'

export type { PipelineHooks, PipelineLogger } from './flush.ts'

export interface PipelineOptions {
  config: Pick<Config, 'FLUSH_INTERVAL_MS' | 'FLUSH_MAX_BYTES' | 'MAX_BUFFERED_BYTES'> & Partial<Pick<Config, 'MAX_PARTITIONS_PER_FLUSH' | 'S3_PREFIX'>>
  storage: Storage
  encoder: ParquetEncoder
  hooks?: PipelineHooks
  logger?: PipelineLogger
  /** Clock (ms since epoch) for `__ingested_at` and partitions; tests move it across an hour. */
  now?: () => number
  /** Schedules flush windows, backoff and close retries (default: the system's); tests advance it. */
  clock?: Clock
  retryDelayMs?: (failures: number) => number
}

/** The Pipeline plus the read-side queries the routes need. */
export interface QuiverPipeline extends Pipeline {
  /**
   * Committed objects of a topic, from a fresh listing (sorted by key = by time); with the topic's
   * `createdAt`, only those written for it (not for an earlier topic of the same name).
   */
  files (topic: string, createdAt?: string): Promise<CommittedFile[]>
  /** Buffered counters plus committed stats from a fresh listing (of the topic created at `createdAt`, when given). */
  topicStats (topic: string, createdAt?: string): Promise<TopicBufferStats>
  /** The same counters as this instance knows them now, without listing storage (what it wrote, and its last listing). */
  knownStats (topic: string, createdAt?: string): TopicBufferStats
  /** Flags an object whose rows could not be decoded (its footer was fine): skipped from now on. */
  markCorrupt (topic: string, key: string, reason: string): void
  /**
   * Commits the object of a request too large to buffer (src/ingest/large-request.ts) through
   * the flushes' own commit (commit.ts), and counts its rows as ingested.
   */
  commitStaged (topic: string, dir: string, body: AsyncIterable<Uint8Array>, o: CommitOptions & { requestBytes: () => number }): Promise<CommittedFile>
  readonly storage: Storage
  /**
   * Bytes held now (what `stats().bufferedBytes` reports, without walking the topics): rows waiting
   * for their commit, their row groups already encoded, and objects being assembled or written.
   */
  readonly bufferedBytes: number
}

/** `at`: the batch's ingestion time (ms since epoch), the `__ingested_at` its rows will be stored with. */
type Listener = (batch: RecordBatch, schema: Schema, at: number) => void

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
  const clock = opts.clock ?? systemClock
  const index = new CommittedIndex(storage, { log, onCorrupt: (topic) => hooks.corrupt?.(topic) })
  const batchers = new Map<string, Batcher<FlushPayload>>()
  const listeners = new Map<string, Set<Listener>>()
  const capacityWaiters: Array<() => void> = []
  let buffered = 0
  let closing = false
  // Shutdown has begun: buffers are flushed now and as rows arrive, not when their windows end.
  let draining = false
  const maxPartitions = config.MAX_PARTITIONS_PER_FLUSH ?? 1000
  // S3 takes object keys of at most 1,024 bytes: `{S3_PREFIX}{topic}/{dirs}{26-character id}.parquet`.
  // Checked for local storage too, so a lake can move to S3 as it is.
  const prefixBytes = Buffer.byteLength((config.S3_PREFIX ?? '').replace(/^\/+/, ''))
  /** A pause that lets the event loop turn once `slicer`'s slice of work is spent. */
  const pauseEvery = (slicer: Slicer) => async (): Promise<void> => { await slicer.pause() }
  const dirRoom = (topic: string): number => 1024 - prefixBytes - Buffer.byteLength(topic) - 2 - 26 - '.parquet'.length

  const release = (bytes: number): void => {
    buffered -= bytes
    hooks.buffered?.(buffered)
    while (buffered < config.MAX_BUFFERED_BYTES && capacityWaiters.length > 0) capacityWaiters.shift()!()
  }

  const commit = createCommit({ storage, index, hooks, log })
  // Encoded row groups waiting for their flush, and an assembled object until its commit ends,
  // are held too: they count in `buffered`, so MAX_BUFFERED_BYTES bounds them with the rows.
  const held = (delta: number): void => {
    if (delta < 0) return release(-delta)
    buffered += delta
    hooks.buffered?.(buffered)
  }
  const flusher = createFlushWriter({ encoder: opts.encoder, commit, log, flushMaxBytes: config.FLUSH_MAX_BYTES, held })

  function batcherOf (topic: string): Batcher<FlushPayload> {
    let b = batchers.get(topic)
    if (!b) {
      b = new Batcher<FlushPayload>({
        intervalMs: config.FLUSH_INTERVAL_MS,
        maxBytes: config.FLUSH_MAX_BYTES,
        retryDelayMs: opts.retryDelayMs,
        clock,
        maxInFlight: Math.max(1, opts.encoder.threads),
        // Topics fed from the same moment would otherwise all flush at once, forever.
        desync: () => Math.random() * 0.5,
        maxPartitions,
        write: (_partition, entries) => flusher.write(topic, entries),
        onSettled: (entry, err) => {
          flusher.settled(entry)
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

  async function ingest (topic: TopicRecord, batches: RecordBatch[], o: { ack: AckMode, bytes: number, release?: () => void, key?: IngestKey }): Promise<IngestResult> {
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
      o.key?.plan(now(), [], { ...result, bytes: o.bytes })
      o.key?.committed()
      return result
    }
    const at = o.key?.resume?.at ?? now()
    const spec = specOf(topic)
    // Counted before the first await: the caller's reservation hands over to this count at once
    // (src/ingest/service.ts), while the rows are split by partition.
    buffered += size
    hooks.buffered?.(buffered)
    let groups
    try {
      // Rows are looked at one by one only when values or event times place them: the event loop
      // then gets turns meanwhile (a 6 M-row request held it 7 s).
      groups = isArrivalHourly(spec)
        ? partitionBatches(batches, spec, at, dirRoom(topic.name))
        : await partitionBatchesAsync(batches, spec, at, dirRoom(topic.name), pauseEvery(new Slicer()), maxPartitions)
      // A keyed retry of a request a dead gateway had partly committed stores only the rest.
      for (const [k, g] of groups) if (o.key?.resume?.committedDirs.has(g.dir) === true) groups.delete(k)
      o.key?.plan(at, [...groups.values()].map((g) => g.dir), { ...result, bytes: o.bytes })
    } catch (err) {
      release(size)
      o.release?.()
      throw err
    }
    if (groups.size === 0) {
      release(size)
      o.release?.()
      o.key?.committed()
      return result
    }
    // One entry per partition, buffered together; the memory behind `batches` is given back once
    // the last of them settles.
    let open = groups.size
    const releaseAll = o.release === undefined ? undefined : () => { if (--open === 0) o.release!() }
    const entries = [...groups.values()].map((g): BatchEntry<FlushPayload> => ({
      payload: { batches: g.batches, at, topic: topic.name, createdAt: topic.createdAt, dir: g.dir, release: releaseAll, key: o.key },
      rows: g.rows,
      bytes: Math.max(1, Math.round(size * g.rows / rows)),
      // createdAt keeps a deleted-and-recreated topic's batches out of the old schema's object,
      // schemaVersion an evolved topic's batches out of the previous version's (schema evolution).
      partition: `${g.dir}@${topic.createdAt}#${topic.schemaVersion ?? 1}`,
      retain: o.ack === 'accepted'
    }))
    const held = entries.reduce((n, e) => n + e.bytes, 0)
    buffered += held - size // the entries' shares (rounded) in place of the request's size
    hooks.buffered?.(buffered)
    hooks.ingested?.(topic.name, rows, o.bytes)
    // A request spanning partitions is all-or-nothing for its producer (see Batcher: siblings).
    if (entries.length > 1) for (const e of entries) e.siblings = entries
    const batcher = batcherOf(topic.name)
    for (const e of entries) flusher.arrived(e) // first: the batcher may flush them at once
    const committed = batcher.addAll(entries)
    // Failures reach the entries' own promises; this call only starts the flush.
    if (draining) batcher.flush().catch(() => {})
    if (o.key !== undefined) committed.then(() => o.key!.committed(), () => {})
    const subs = listeners.get(topic.name)
    if (subs) {
      for (const b of batches) {
        for (const l of subs) {
          try { l(b, b.schema, at) } catch (err) { log.warn({ err, topic: topic.name }, 'tail listener failed') }
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
    get bufferedBytes () { return buffered },
    ingest,
    hasCapacity: () => buffered < config.MAX_BUFFERED_BYTES,
    waitForCapacity: () => buffered < config.MAX_BUFFERED_BYTES ? Promise.resolve() : new Promise<void>((resolve) => capacityWaiters.push(resolve)),
    flushAll,
    drain () {
      draining = true
      return flushAll()
    },
    subscribe (topic, listener) {
      let subs = listeners.get(topic)
      if (!subs) { subs = new Set(); listeners.set(topic, subs) }
      subs.add(listener)
      return () => {
        subs.delete(listener)
        // A tail on a name nobody writes to must not leave the name behind.
        if (subs.size === 0 && listeners.get(topic) === subs) listeners.delete(topic)
      }
    },
    stats (): PipelineStats {
      const topics: Record<string, TopicBufferStats> = {}
      for (const name of batchers.keys()) topics[name] = topicStats(name, index.summary(name))
      return { bufferedBytes: buffered, topics, trackedNames: batchers.size + listeners.size + index.trackedNames() }
    },
    async topicStats (name, createdAt) {
      await index.refresh(name)
      return topicStats(name, index.summary(name, createdAt))
    },
    knownStats: (name, createdAt) => topicStats(name, index.summary(name, createdAt)),
    async files (name, createdAt) {
      const all = await index.refresh(name)
      return createdAt === undefined ? all : all.filter((f) => ofTopic(f, createdAt))
    },
    markCorrupt: (topic, key, reason) => index.markCorrupt(topic, key, reason),
    async commitStaged (topic, dir, body, o) {
      const file = await commit(topic, dir, body, o)
      batcherOf(topic) // listed in stats() like any topic written to
      hooks.ingested?.(topic, file.rows, o.requestBytes())
      return file
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
          await new Promise<void>((resolve) => clock.setTimeout(resolve, 500 * attempt))
        }
      }
      for (const b of batchers.values()) b.close(new ShuttingDownError())
      for (const w of capacityWaiters.splice(0)) w()
    }
  }
}
