import type { RecordBatch, Schema } from 'apache-arrow'
import type { Config } from '../../config/schema.ts'
import type { TopicRecord } from '../schema/topic-schema.ts'
import { openArrowStream, type ArrowBatchStream } from '../arrow/decode.ts'
import { castTimestampsToMicros, Int64Scratch, withIngestedAt } from '../arrow/encode.ts'
import { matchSchema } from '../arrow/compare.ts'
import { normaliseBatchPaced } from '../arrow/normalise-paced.ts'
import { Slicer } from '../arrow/json-slices.ts'
import { toArrowSchema } from '../schema/types.ts'
import { prospectiveTopic, evolveForStream } from './evolve-stream.ts'
import { autoCreatedSchema, resolveTopic, validateStreamPaced, type TopicLookup } from './validate-stream.ts'
import { topicArrowSchema } from '../arrow/topic-arrow-schema.ts'
import { PayloadTooLargeError, SchemaMismatchError, StorageUnavailableError, TopicNotFoundError } from '../errors.ts'
import { isArrivalHourly, specOf } from '../lake/partition-spec.ts'
import type { ParquetEncoder } from '../parquet/types.ts'
import { RowGroupStream, stagedGroupBytes, type Shape } from '../pipeline/row-group-stream.ts'
import type { SharedSlabs } from '../pipeline/shared-slabs.ts'
import type { CommittedFile } from '../read/committed.ts'
import type { IngestBody, Body } from './ingest-body.ts'
import type { IngestKey } from '../pipeline/types.ts'
import { IDEMPOTENCY_KEYS } from '../parquet/quiver-metadata.ts'
import type { QuiverPipeline } from '../pipeline/pipeline.ts'
import { encodeSettings } from '../pipeline/commit.ts'
import { timeDirs } from '../lake/hive-path.ts'
import { FrameRecycler } from '../pipeline/frame-recycler.ts'

/** Bodies above this are staged as their own object rather than buffered: memory stays bounded whatever the body size. */
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
  /**
   * The encoder pool every flush uses: a staged request's row groups are encoded there in the
   * background (flushes go first, src/parquet/pool.ts), on every thread a flush leaves free.
   */
  pool: ParquetEncoder
  /**
   * Told what the request will hold in memory at once beyond the threshold, so that its
   * reservation covers it (src/ingest/service.ts): a record batch is held whole (`bytes` its
   * body), and a request to a partitioned topic is held whole (Infinity). `what` names it in the
   * 413 when it cannot fit in MAX_BUFFERED_BYTES even alone.
   */
  holds?: (bytes: number, what: string) => void
  /**
   * Takes one of the ingest service's staging slots for row groups of `groupBytes`, once the first
   * rows are about to be staged: what the request's windows hold (src/pipeline/row-group-stream.ts)
   * is reserved in MAX_BUFFERED_BYTES with it. Throws OverloadedError when no slot or no room is free.
   */
  stageSlot: (groupBytes: number) => StageSlot
  /**
   * Reads the body as batches some other way than as an Arrow IPC stream (NDJSON, JSON arrays:
   * src/ingest/json-batches.ts), given the topic found in the catalog; default openArrowStream.
   */
  open?: (existing: TopicRecord | null) => Promise<ArrowBatchStream>
  /** The pipeline's commit (commit.ts via QuiverPipeline.commitStaged): key, upload, index, metrics. */
  commit: QuiverPipeline['commitStaged']
  /**
   * The request's Idempotency-Key, if it has one: told the rows' time, partition and answer and
   * given the object's key before the object can appear, as a flush does (src/pipeline/flush.ts).
   */
  key?: IngestKey
  now?: () => number
}

/** A staging slot: the size of its row groups, how many may be in flight, the slabs they are filled in; until release(). */
export interface StageSlot {
  rowGroupBytes: number
  window: number
  slabs?: SharedSlabs
  release: () => void
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
 * An Arrow IPC stream request (or a JSON one, through `open`). Small bodies (announced at or under the threshold, or unannounced
 * and ending before it) come back as an IngestBody for the pipeline, read exactly as
 * readIngestBody would. Larger ones are written as one Parquet object of their own, encoded as
 * they are read and uploaded part by part; it is committed only when the whole body was read and
 * validated, aborted otherwise (all-or-nothing with memory independent of the body size).
 * Staged rows are not shown to live-tail subscribers.
 */
export async function readOrStage (o: StageOptions): Promise<StageOutcome> {
  const found = await o.catalog.get(o.topic)
  if (!found && !o.autoCreate) throw new TopicNotFoundError(o.topic)
  if (o.length !== undefined && o.length > o.maxBytes) throw new PayloadTooLargeError(o.maxBytes)
  // Arrow bodies are framed into reused buffers (frame-recycler.ts); a JSON body's batches are
  // built by its reader (`open`), so the recycler lends nothing for them.
  const frames = new FrameRecycler()
  const alloc = (n: number): Uint8Array => {
    o.holds?.(n, `A record batch of ${n} bytes`)
    return frames.alloc(n)
  }
  const stream = o.open !== undefined ? await o.open(found) : await openArrowStream(o.body, { maxBytes: o.maxBytes, alloc })
  // A stream adding nullable fields is read against the schema it evolves the topic to; the
  // topic evolves only once the whole body was valid (src/ingest/evolve-stream.ts).
  const existing = found && prospectiveTopic(found, stream.schema, o.catalog.evolve !== undefined)
  const resolve = async () => found ? await evolveForStream(o.catalog, found, { schema: stream.schema }) : await resolveTopic(o.catalog, o.topic, stream.schema, o.autoCreate)
  const target = targetOf(existing, o.topic, stream.schema)
  const held: RecordBatch[] = []
  // A partitioned topic's request is split by partition in the pipeline: one streamed object per
  // request cannot hold several partitions (lake; staging per partition is not built yet).
  const partitioned = existing !== null && !isArrivalHourly(specOf(existing))
  if (partitioned) o.holds?.(Infinity, `A request to partitioned topic "${o.topic}"`)
  if ((!o.large || partitioned) && await holdUntil(stream, held, partitioned ? Infinity : o.thresholdBytes)) {
    const topic = await resolve()
    const batches = await validateStreamPaced(topic, { schema: stream.schema, batches: held })
    return { staged: false, read: { topic, batches, rows: stream.rows, bytes: stream.bytes } }
  }
  const slot: { taken: StageSlot | null } = { taken: null }
  try {
    return await stage(o, existing, stream, target, held, frames, resolve, slot)
  } finally {
    slot.taken?.release()
  }
}

/**
 * Reads batches into `held` until the stream ends (true) or another message as large as the
 * largest so far would take it over `threshold` bytes (false): with 50 MiB messages and the
 * 64 MiB threshold, staging starts after the first, not after holding two. A function of its
 * own: a suspended async frame may keep its last loop value, and readOrStage stays suspended for
 * the whole staged request (that kept a held message's buffer alive beside the recycled one).
 */
async function holdUntil (stream: ArrowBatchStream, held: RecordBatch[], threshold: number): Promise<boolean> {
  let largest = 0
  for (;;) {
    const before = stream.bytes
    const r = await stream.batches.next()
    if (r.done === true) return true
    held.push(r.value)
    largest = Math.max(largest, stream.bytes - before)
    if (stream.bytes + largest > threshold) return false
  }
}

async function stage (o: StageOptions, existing: TopicRecord | null, stream: ArrowBatchStream, target: Target, held: RecordBatch[], frames: FrameRecycler, resolve: () => Promise<TopicRecord>, slot: { taken: StageSlot | null }): Promise<StageOutcome> {
  const started = performance.now()
  const at = (o.now ?? Date.now)()
  // Arrival-time hour directories: staging is for topics without partition columns (readOrStage).
  const dir = timeDirs(at, 'hour')
  const key = o.key
  let encoder: RowGroupStream | null = null
  let upload: Promise<CommittedFile> | null = null
  let storageErr: unknown = null
  let failed: unknown = null
  let batches = 0

  // The µs timestamps and `__ingested_at` are made for one row group's slice of a message at a
  // time, in memory reused by the next slice (write() copies each slice as soon as it is shaped):
  // for a whole message at once they added 16 bytes a row (a 250 MiB message of the issue's
  // five columns held 128 MiB more).
  const scratch = new Int64Scratch()
  const take = (n: number): BigInt64Array => scratch.take(n)
  const shape: Shape = {
    rows: (slice) => {
      scratch.reset()
      return withIngestedAt(castTimestampsToMicros(slice, take), at, take(slice.numRows))
    },
    extraPerRow: 8
  }
  const slicer = new Slicer()
  const feed = async (raw: RecordBatch): Promise<void> => {
    // In slices, the event loop turning between them (src/arrow/normalise-paced.ts); the frame is recycled only after.
    const b = await normaliseBatchPaced(raw, target.schema, target.reorder, { slicer })
    batches++
    if (encoder === null) {
      const schema = shape.rows(b.slice(0, 0)).schema
      // a topic auto-created by this request has no createdAt yet (its objects' ids tell: ofTopic)
      const settings = encodeSettings(o.topic, schema, existing?.createdAt)
      // The key travels in the object's footer, as in a flush's object.
      if (key !== undefined) settings.metadata = { ...settings.metadata, [IDEMPOTENCY_KEYS]: key.footer }
      // The slot (and the memory its windows hold) is taken with the first rows: a request refused
      // here has read one message at most beyond what it held, and stored nothing.
      const taken = slot.taken = o.stageSlot(stagedGroupBytes(schema))
      const enc = new RowGroupStream({ encoder: o.pool, schema, ...settings, rowGroupBytes: taken.rowGroupBytes, window: taken.window, slabs: taken.slabs })
      encoder = enc
      // Runs once the body was read whole and validated (the encoder's output ends after that):
      // the claim gets the answer and names the object before storage completes it, so after a
      // crash the object's presence alone says whether these rows were committed.
      const before = key === undefined
        ? undefined
        : async (objectKey: string) => {
          key.plan(at, [dir], { rows: stream.rows, batches, bytes: stream.bytes })
          await key.naming(objectKey, dir)
        }
      upload = o.commit(o.topic, dir, enc.output(), { rows: () => enc.rows ?? stream.rows, started, requestBytes: () => stream.bytes, before, topicCreatedAt: existing?.createdAt }).catch((err: unknown) => {
        // Unless the request failed first (its error then aborted the upload), storage failed.
        if (failed === null) {
          storageErr ??= err
          enc.destroy(new StorageUnavailableError())
        }
        throw err
      })
      upload.catch(() => {}) // awaited below; the producer may fail first
    }
    await encoder.write(b, shape)
  }

  try {
    // Memory: one message body at a time from here (reused buffers: those of the batches held
    // before staging first), its rows copied into the row group being filled; RowGroupStream
    // bounds the groups in flight.
    frames.start(stream.schema)
    for (const b of held.splice(0)) await feed(b)
    frames.recycle()
    for await (const b of stream.batches) {
      await feed(b)
      frames.recycle()
    }
    // Auto-created topics appear only once the whole body was valid.
    const topic = await resolve()
    if (!existing) targetOf(topic, o.topic, stream.schema) // another writer may have created it first
  } catch (err) {
    failed = err
    ;(encoder as RowGroupStream | null)?.destroy(err as Error)
    await (upload as Promise<unknown> | null)?.catch(() => {})
    if (storageErr !== null) throw storageErr
    throw err
  }
  if (encoder === null || upload === null) {
    // No rows, nothing written: the key is committed at once, as the pipeline does for an empty request.
    key?.plan(at, [], { rows: 0, batches: 0, bytes: stream.bytes })
    key?.committed()
    return { staged: true, rows: 0, batches: 0, bytes: stream.bytes }
  }
  ;(encoder as RowGroupStream).end()
  // Rejects with StorageUnavailableError (commit.ts) when storage failed.
  const file = await (upload as Promise<CommittedFile>)
  key?.committed()
  return { staged: true, rows: file.rows, batches, bytes: stream.bytes }
}
