import type { RecordBatch, Schema } from 'apache-arrow'
import type { TopicRecord } from '../schema/topic-schema.ts'

export type AckMode = 'durable' | 'accepted'

/**
 * An Idempotency-Key the request holds (src/pipeline/idempotency.ts): the pipeline tells it the rows'
 * time and partitions before buffering them, the flush names each object before writing it and
 * lists the key in the object's footer, and it hears when every row is committed.
 */
export interface IngestKey {
  readonly footer: string
  /** A dead gateway committed part of this same request: reuse its ingestion time, skip those partitions. */
  readonly resume: { at: number, committedDirs: ReadonlySet<string> } | null
  /** May throw (the request is refused before anything is buffered). */
  plan (at: number, dirs: string[], result: { rows: number, batches: number, bytes: number }): void
  naming (objectKey: string, dir: string): Promise<void>
  committed (): void
}

export interface IngestResult {
  rows: number
  batches: number
}

/**
 * Per-topic buffers in front of the encoder and storage. A request's batches join a buffer
 * together (all-or-nothing) only after the whole request was read and validated.
 */
export interface Pipeline {
  /**
   * Adds already-validated batches (schema normalised to the topic's field order).
   * Resolves once staged ('accepted') or once the Parquet object holding every row is committed
   * ('durable'); rejects with StorageUnavailableError if the flush finally fails.
   * Throws OverloadedError synchronously-ish (rejects before buffering) over MAX_BUFFERED_BYTES.
   * `release` is called exactly once, when nothing reads `batches` any more (their rows are
   * committed or dropped, or they were never buffered): the memory behind them may be reused.
   */
  ingest (topic: TopicRecord, batches: RecordBatch[], opts: { ack: AckMode, bytes: number, release?: () => void, key?: IngestKey }): Promise<IngestResult>
  /** True while buffered bytes are below MAX_BUFFERED_BYTES; producers that can wait do so via waitForCapacity. */
  hasCapacity (): boolean
  waitForCapacity (): Promise<void>
  /** Flushes every buffer; resolves when all of it is durable. */
  flushAll (): Promise<void>
  /**
   * Shutdown has begun: flushes every buffer now, and each request's rows as they arrive, instead of
   * when their flush windows end (a window may outlast SHUTDOWN_TIMEOUT_MS). Resolves like flushAll.
   */
  drain (): Promise<void>
  /** Live tail: called with every batch accepted for the topic from now on, and its ingestion time (ms). Returns the unsubscribe function. */
  subscribe (topic: string, listener: (batch: RecordBatch, schema: Schema, at: number) => void): () => void
  stats (): PipelineStats
  close (): Promise<void>
}

export interface TopicBufferStats {
  bufferedRows: number
  bufferedBytes: number
  committedRows: number
  committedBytes: number
  files: number
  lastFlushAt: string | null
}

export interface PipelineStats {
  bufferedBytes: number
  topics: Record<string, TopicBufferStats>
  /** Entries of the per-topic maps (buffers, tail listeners, committed index): grows only with real topics. */
  trackedNames: number
}
