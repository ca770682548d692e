import type { RecordBatch, Schema } from 'apache-arrow'
import type { Config } from '../../config/schema.ts'
import type { Storage } from '../storage/types.ts'
import type { TopicRecord } from '../schema/topic-schema.ts'
import { openArrowStream, type ArrowBatchStream } from '../arrow/decode.ts'
import { castTimestampsToMicros, toIpcStream, withIngestedAt } from '../arrow/encode.ts'
import { matchSchema, normaliseBatch } from '../schema/compare.ts'
import { toArrowSchema } from '../schema/types.ts'
import { autoCreatedSchema, resolveTopic, topicArrowSchema, validateStream, type TopicLookup } from '../ingest/validate-stream.ts'
import { OverloadedError, PayloadTooLargeError, SchemaMismatchError, StorageUnavailableError, TopicNotFoundError } from '../errors.ts'
import { newObjectId, objectKey } from '../keys.ts'
import { ParquetStreamEncoder } from '../parquet/stream-encoder.ts'
import { dictionaryColumnsOf } from '../parquet/dictionary.ts'
import type { ParquetCompression, ParquetEncoder } from '../parquet/types.ts'
import type { CommittedFile } from './committed.ts'
import type { IngestBody, Body } from './ingest-body.ts'
import { batchBytes } from './pipeline.ts'

/** Largest IPC message handed to the encoder: bigger client batches are sliced (bounds the copies). */
const SLICE_BYTES = 2 * 1024 * 1024
/** Raw bytes per row group: the writer holds one row group's encoded pages at a time (RSS measured). */
const ROW_GROUP_BYTES = 8 * 1024 * 1024
/** Each staged request holds an encoder thread and its windows: more get a 503 and retry. */
export const MAX_STAGED_REQUESTS = 2

let staging = 0

/** Bodies above this are staged as their own object rather than buffered (CONTRACT §6). */
export function largeRequestThreshold (config: Pick<Config, 'FLUSH_MAX_BYTES' | 'MAX_BUFFERED_BYTES'>): number {
  return Math.min(config.FLUSH_MAX_BYTES, Math.floor(config.MAX_BUFFERED_BYTES / 4))
}

export interface StageOptions {
  body: Body
  topic: string
  catalog: TopicLookup
  autoCreate: boolean
  maxBytes: number
  /** Body bytes above which the request leaves memory for its own object. */
  thresholdBytes: number
  /** The request announced a length above the threshold: stage from the first batch. */
  large: boolean
  /** The announced length (content-length), if any: over maxBytes is refused before reading. */
  length?: number
  storage: Storage
  compression: ParquetCompression
  /**
   * The encoder pool: with two threads or more, staged requests run on all but one of them
   * (their parquet-wasm is loaded already, ~50 MiB less than a thread of our own) so flushes keep one.
   */
  pool?: ParquetEncoder
  /** Called once the object is committed (pipeline stats and metrics). */
  committed: (topic: string, file: CommittedFile, o: { requestBytes: number, seconds: number }) => void
  now?: () => number
  log?: { error: (obj: object, msg: string) => void }
}

export type StageOutcome =
  | { staged: true, rows: number, batches: number, bytes: number }
  | { staged: false, read: IngestBody }

interface Target { schema: Schema, reorder: null | number[] }

function targetOf (existing: TopicRecord | null, name: string, incoming: Schema): Target {
  // A topic about to be auto-created gets exactly the schema resolveTopic would give it.
  // Checked like any auto-created topic (names, width) before a byte is staged.
  const schema = existing ? topicArrowSchema(existing) : toArrowSchema(autoCreatedSchema(name, incoming))
  const match = matchSchema(schema, incoming)
  if (!match.ok) throw new SchemaMismatchError(match.message)
  return { schema, reorder: match.reorder }
}

/**
 * An Arrow IPC stream request. Small bodies (announced at or under the threshold, or unannounced
 * and ending before it) come back as an IngestBody for the pipeline, read exactly as
 * readIngestBody would. Larger ones are written as one Parquet object of their own, encoded as
 * they are read and uploaded part by part; it is committed only when the whole body was read and
 * validated, aborted otherwise (all-or-nothing with memory independent of the body size).
 * Staged rows are not shown to live-tail subscribers.
 */
export async function readOrStage (o: StageOptions): Promise<StageOutcome> {
  const existing = await o.catalog.get(o.topic)
  if (!existing && !o.autoCreate) throw new TopicNotFoundError(o.topic)
  if (o.length !== undefined && o.length > o.maxBytes) throw new PayloadTooLargeError(o.maxBytes)
  const stream = await openArrowStream(o.body, { maxBytes: o.maxBytes })
  const target = targetOf(existing, o.topic, stream.schema)
  const held: RecordBatch[] = []
  if (!o.large) {
    for (;;) {
      const r = await stream.batches.next()
      if (r.done === true) {
        const topic = existing ?? await resolveTopic(o.catalog, o.topic, stream.schema, o.autoCreate)
        const batches = validateStream(topic, { schema: stream.schema, batches: held })
        return { staged: false, read: { topic, batches, rows: stream.rows, bytes: stream.bytes } }
      }
      held.push(r.value)
      if (stream.bytes > o.thresholdBytes) break
    }
  }
  const pooled = o.pool?.runTask !== undefined && o.pool.threads >= 2
  if (staging >= (pooled ? Math.min(MAX_STAGED_REQUESTS, o.pool!.threads - 1) : MAX_STAGED_REQUESTS)) throw new OverloadedError()
  staging++
  try {
    return await stage({ ...o, pool: pooled ? o.pool : undefined }, existing, stream, target, held)
  } finally {
    staging--
  }
}

async function stage (o: StageOptions, existing: TopicRecord | null, stream: ArrowBatchStream, target: Target, held: RecordBatch[]): Promise<StageOutcome> {
  const started = performance.now()
  const at = (o.now ?? Date.now)()
  const key = objectKey(o.topic, new Date(at), newObjectId())
  let encoder: ParquetStreamEncoder | null = null
  let upload: Promise<{ bytes: number }> | null = null
  let storageErr: unknown = null
  let failed: unknown = null
  let batches = 0

  const feed = async (raw: RecordBatch): Promise<void> => {
    const b = withIngestedAt(castTimestampsToMicros(normaliseBatch(raw, target.schema, target.reorder)), at)
    batches++
    const perRow = Math.max(1, batchBytes(b) / b.numRows)
    if (encoder === null) {
      const rowGroup = Math.min(1024 * 1024, Math.max(1024, Math.floor(ROW_GROUP_BYTES / perRow)))
      const enc = new ParquetStreamEncoder({ compression: o.compression, maxRowGroupSize: rowGroup, dictionaryColumns: dictionaryColumnsOf(b.schema), pool: o.pool })
      encoder = enc
      upload = o.storage.putStream(key, enc.output()).catch((err: unknown) => {
        // Unless the request failed first (its error then aborted the upload), storage failed.
        if (failed === null) {
          storageErr ??= err
          enc.destroy(new StorageUnavailableError())
        }
        throw err
      })
      upload.catch(() => {}) // awaited below; the producer may fail first
    }
    const step = Math.max(1, Math.floor(SLICE_BYTES / perRow))
    for (let i = 0; i < b.numRows; i += step) {
      const part = step >= b.numRows ? b : b.slice(i, Math.min(b.numRows, i + step))
      await encoder.write(owned(toIpcStream([part])))
    }
  }

  try {
    for (const b of held.splice(0)) await feed(b)
    for await (const b of stream.batches) await feed(b)
    // Auto-created topics appear only once the whole body was valid.
    const topic = existing ?? await resolveTopic(o.catalog, o.topic, stream.schema, o.autoCreate)
    if (!existing) targetOf(topic, o.topic, stream.schema) // another writer may have created it first
  } catch (err) {
    failed = err
    ;(encoder as ParquetStreamEncoder | null)?.destroy(err as Error)
    await (upload as Promise<unknown> | null)?.catch(() => {})
    if (storageErr !== null) throw storageFailure(o, key, storageErr)
    throw err
  }
  if (encoder === null || upload === null) return { staged: true, rows: 0, batches: 0, bytes: stream.bytes }
  const enc: ParquetStreamEncoder = encoder
  enc.end()
  let objectBytes: number
  try {
    objectBytes = (await (upload as Promise<{ bytes: number }>)).bytes
  } catch (err) {
    throw storageFailure(o, key, storageErr ?? err)
  }
  const rows = enc.rows ?? stream.rows
  o.committed(o.topic, { key, bytes: objectBytes, rows, createdAt: new Date().toISOString() }, {
    requestBytes: stream.bytes,
    seconds: (performance.now() - started) / 1000
  })
  return { staged: true, rows, batches, bytes: stream.bytes }
}

function storageFailure (o: StageOptions, key: string, err: unknown): Error {
  o.log?.error({ err, key }, 'writing a staged Parquet object failed')
  return Object.assign(new StorageUnavailableError(), { cause: err })
}

/** A view that spans its whole ArrayBuffer, so transferring it moves exactly these bytes. */
function owned (u8: Uint8Array): Uint8Array {
  return u8.buffer instanceof ArrayBuffer && u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength ? u8 : u8.slice()
}
