import type { Config } from '../../config/schema.ts'
import type { Catalog } from '../catalog.ts'
import type { ParquetEncoder } from '../parquet/types.ts'
import type { QuiverPipeline } from '../pipeline/pipeline.ts'
import type { AckMode, IngestKey } from '../pipeline/types.ts'
import type { DecodedMessage, PreparedMessage } from './messages.ts'
import { HeldTooLargeError, OverloadedError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors.ts'
import { readArrowMessage } from '../arrow/decode.ts'
import { BufferPool } from '../arrow/buffer-pool.ts'
import { sniffArrowFile } from '../arrow/file-sniff.ts'
import { ARROW_FILE, ARROW_STREAM, INGEST_MEDIA_TYPES, JSON_ARRAY, NDJSON } from '../http/media-types.ts'
import { readIngestBody, type Body } from './ingest-body.ts'
import { largeRequestThreshold, readOrStage } from './large-request.ts'
import { Admission, type Reservation } from './admission.ts'
import { StagingSlots } from './staging.ts'
import { ROW_GROUP_BYTES } from '../pipeline/flush.ts'
import { ingestFailure } from './failure.ts'
import { createKeyedIngest } from './keyed.ts'
import type { KeyOwner } from '../lake/idempotency-key.ts'
import type { IdempotencyKeys } from '../pipeline/idempotency.ts'
import { lookupWithin } from './catalog-lookup.ts'
import { openJsonBody } from './json-batches.ts'
import { resolveTopic, validateStreamPaced } from './validate-stream.ts'
import { evolveForStream } from './evolve-stream.ts'

export interface IngestServiceOptions {
  config: Pick<Config, 'MAX_BUFFERED_BYTES' | 'MAX_REQUEST_BYTES' | 'MAX_JSON_ROW_BYTES' | 'FLUSH_MAX_BYTES' | 'AUTO_CREATE_TOPICS' | 'PARQUET_COMPRESSION' | 'WS_MAX_MESSAGE_BYTES' | 'INGEST_CATALOG_TIMEOUT_MS'>
  pipeline: QuiverPipeline
  catalog: Catalog
  encoder: ParquetEncoder
  /** Idempotency-Key bookkeeping (src/pipeline/idempotency.ts); keyed requests go through ingestKeyed. */
  keys: IdempotencyKeys
}

export interface BodyRequest {
  topic: string
  mediaType: string
  body: Body
  /** The declared Content-Length, when there is one. */
  length?: number
  ack: AckMode
  /** The request's Idempotency-Key (src/ingest/keyed.ts), handed to the pipeline. */
  key?: IngestKey
  log: { info: (obj: object, msg: string) => void, debug: (obj: object, msg: string) => void, error: (obj: object, msg: string) => void }
}

export interface IngestReply { topic: string, rows: number, batches: number, bytes: number, ack: AckMode }

export type IngestService = ReturnType<typeof createIngestService>

export { MAX_STAGED_REQUESTS } from './staging.ts'

/** What a request may hold in memory (its reservation's ceiling), and what to call it when that cannot fit. */
interface HeldLimit { ceiling: number, what: string }

/**
 * The ingest service both transports call (HTTP records route, WebSocket ingest session): admission
 * against MAX_BUFFERED_BYTES, reading every media type, staging large requests, validation and
 * conversion against the topic, the hand-off to the pipeline, and one mapping of failures to
 * `QUIVER_*` errors (src/ingest/failure.ts), so one fault gives one code on both.
 */
export function createIngestService (o: IngestServiceOptions) {
  const { config, pipeline } = o
  const catalog = lookupWithin(o.catalog, config.INGEST_CATALOG_TIMEOUT_MS)
  const admission = new Admission(config.MAX_BUFFERED_BYTES, { bufferedBytes: () => pipeline.bufferedBytes, waitForCapacity: () => pipeline.waitForCapacity() })
  const largeBytes = largeRequestThreshold(config)
  // Buffers for Arrow message bodies, reused across requests (see src/arrow/buffer-pool.ts). Those
  // kept free fit in what the budget leaves beside the bytes held (which include the buffers in
  // use): kept and used together stay within MAX_BUFFERED_BYTES. A fixed 512 MiB beside them let
  // RSS reach ~2 × the budget when body sizes changed (1.7 GiB in the producers x body size bench).
  const bodies = new BufferPool(() => Math.min(512 * 1024 * 1024, config.MAX_BUFFERED_BYTES - admission.heldBytes))
  // What staged requests hold beside their bodies (windows, storage's parts), in the budget too.
  const staging = new StagingSlots(admission, { threshold: largeBytes, threads: o.encoder.threads, storageBytes: pipeline.storage.streamBufferBytes ?? 0 })

  /**
   * A body whose bytes are reserved as they arrive, up to `held.ceiling` (what the request may
   * hold in memory; the staging path raises it for what it must hold whole). What can never fit
   * in the budget, even alone, is a 413 rather than a 503 to retry forever.
   */
  async function * metered (body: Body, r: Reservation, held: HeldLimit, refused: { err: Error | null }, besides: () => number): AsyncGenerator<Uint8Array> {
    let seen = 0
    for await (const c of body as AsyncIterable<Uint8Array | string>) {
      const chunk = typeof c === 'string' ? Buffer.from(c) : c
      seen += chunk.byteLength
      const more = Math.min(seen, held.ceiling) - r.bytes
      if (more > 0 && !r.grow(more, besides())) {
        throw (refused.err = r.bytes + more > admission.cap ? new HeldTooLargeError(held.what, admission.cap) : new OverloadedError())
      }
      yield chunk
    }
  }

  async function ingestBody (req: BodyRequest): Promise<IngestReply> {
    const { topic, ack } = req
    let { mediaType, body: source } = req
    if (!INGEST_MEDIA_TYPES.includes(mediaType)) throw new UnsupportedMediaTypeError(mediaType || '(none)')
    if (req.length !== undefined && req.length > config.MAX_REQUEST_BYTES) throw new PayloadTooLargeError(config.MAX_REQUEST_BYTES)
    if (mediaType === ARROW_STREAM) {
      // an IPC file labelled a stream (src/arrow/file-sniff.ts) is read as the file it is
      const sniffed = await sniffArrowFile(source as AsyncIterable<Uint8Array>)
      source = sniffed.body
      if (sniffed.isFile) mediaType = ARROW_FILE
    }
    // An Arrow stream or a JSON body too large to buffer is staged: it never holds more than the threshold.
    const json = mediaType === NDJSON || mediaType === JSON_ARRAY
    const stageable = mediaType === ARROW_STREAM || json
    const held: HeldLimit = stageable
      ? { ceiling: largeBytes, what: 'This request' }
      : { ceiling: config.MAX_REQUEST_BYTES, what: `A ${mediaType === ARROW_FILE ? 'Arrow IPC file' : 'request'} body` }
    const reservation = admission.reserve(Math.min(req.length ?? 0, held.ceiling))
    const slot = staging.open(reservation)
    let release: (() => void) | undefined
    // Readers wrap what their source throws (a 400 for a broken stream): a refusal stays a 503.
    const refused: { err: Error | null } = { err: null }
    try {
      const body = metered(source, reservation, held, refused, () => slot.bytes)
      let read
      if (stageable && !(req.length !== undefined && req.length <= largeBytes)) {
        // Announced as large: its slot and windows (for the usual row groups) are taken before a
        // byte is read, so a request that cannot stage is refused before its body is read.
        if (req.length !== undefined) slot.take(ROW_GROUP_BYTES)
        const out = await readOrStage({
          body,
          topic,
          catalog,
          // JSON is typed by the topic's schema: it never creates one.
          autoCreate: json ? false : config.AUTO_CREATE_TOPICS,
          open: json ? async (existing) => openJsonBody(body, mediaType, existing!, config.MAX_REQUEST_BYTES, config.MAX_JSON_ROW_BYTES) : undefined,
          maxBytes: config.MAX_REQUEST_BYTES,
          thresholdBytes: largeBytes,
          large: req.length !== undefined && req.length > largeBytes,
          length: req.length,
          pool: o.encoder,
          holds: (bytes, what) => {
            // Reserved from the body's next bytes on (metered): a record batch larger than the
            // threshold, or every byte of a request to a partitioned topic, is in memory whole.
            if (bytes <= held.ceiling) return
            Object.assign(held, { ceiling: bytes, what })
            // Known now to be too large even alone (a batch's length, an announced body): refused before it is read.
            const known = Math.min(bytes, req.length ?? Infinity)
            if (Number.isFinite(known) && known > admission.cap) throw (refused.err = new HeldTooLargeError(what, admission.cap))
          },
          stageSlot: slot.take,
          commit: async (...args) => await pipeline.commitStaged(...args),
          key: req.key
        })
        if (out.staged) {
          req.log.info({ topic, rows: out.rows, bytes: out.bytes, ack }, 'ingested a staged request')
          return { topic, rows: out.rows, batches: out.batches, bytes: out.bytes, ack }
        }
        read = out.read
        slot.release() // held whole (a partitioned topic): buffered like any request, not staged
      } else {
        const lease = mediaType === ARROW_STREAM ? bodies.lease() : undefined
        release = lease?.release
        read = await readIngestBody({ mediaType, body, topic, catalog, autoCreate: config.AUTO_CREATE_TOPICS, maxBytes: config.MAX_REQUEST_BYTES, maxJsonRowBytes: config.MAX_JSON_ROW_BYTES, alloc: lease?.alloc })
      }
      // The pipeline counts the rows as buffered before ingest() first awaits: the reservation
      // hands over to that count without a moment where neither holds the bytes.
      const done = pipeline.ingest(read.topic, read.batches, { ack, bytes: read.bytes, release, key: req.key })
      release = undefined
      reservation.release()
      const result = await done
      req.log.debug({ topic, rows: result.rows, bytes: read.bytes, ack }, 'ingested')
      return { topic, rows: result.rows, batches: result.batches, bytes: read.bytes, ack }
    } catch (err) {
      release?.()
      throw ingestFailure(refused.err ?? err)
    } finally {
      slot.release()
      reservation.release()
    }
  }

  const keyed = createKeyedIngest(o.keys, ingestBody, config.MAX_REQUEST_BYTES)

  /**
   * What a WebSocket ingest session needs (src/ws/ingest-session.ts), bound to one topic and, for
   * keyed messages, to the principal that owns their keys.
   */
  function session (topic: string, owner?: KeyOwner | null) {
    return {
      keyed: owner == null ? undefined : (key: string, bytes: Uint8Array) => keyed.message(topic, owner, key, bytes),
      decode: (bytes: Uint8Array) => readArrowMessage(bytes, { maxBytes: config.WS_MAX_MESSAGE_BYTES }),
      async accept (payload: DecodedMessage): Promise<PreparedMessage> {
        const record = await evolveForStream(catalog, await resolveTopic(catalog, topic, payload.schema, config.AUTO_CREATE_TOPICS), payload)
        // In slices (a 500k-row message held the event loop 0.1-1 s converting at once).
        return { topic: record, batches: await validateStreamPaced(record, payload), rows: payload.rows, bytes: payload.bytes }
      },
      pipeline,
      // A message is in memory once `ws` delivers it: counted from then on, so HTTP bodies are
      // refused while it waits; the socket is not read again until there is room.
      admit: (bytes: number) => admission.hold(bytes).release,
      // ...and before that, from each frame's header on: the socket is read only as far as the budget has room.
      reserveFrame: (bytes: number, now: boolean) => admission.incoming(bytes, now),
      room: { hasRoom: () => admission.hasRoom(), waitForRoom: () => admission.waitForRoom() },
      failure: ingestFailure
    }
  }

  return {
    admission,
    /** ingestBody for a request with an Idempotency-Key: a retry is answered, not stored twice. */
    ingestKeyed: keyed.ingestKeyed,
    keys: o.keys,
    catalog,
    ingestBody,
    session,
    stats: () => ({ reservedBytes: admission.reservedBytes, peakBytes: admission.peakBytes })
  }
}
