import type { RecordBatch } from 'apache-arrow'
import type { TopicRecord } from '../schema/topic-schema.ts'
import { readArrowFile, readArrowStream } from '../arrow/decode.ts'
import { readNdjson } from '../arrow/json.ts'
import { readJsonArrayStream } from './json-array.ts'
import { evolveForStream } from './evolve-stream.ts'
import { resolveTopic, validateStreamPaced, type TopicLookup } from './validate-stream.ts'
import { topicArrowSchema } from '../arrow/topic-arrow-schema.ts'
import { PayloadTooLargeError, TopicNotFoundError, UnsupportedMediaTypeError } from '../errors.ts'
import { ARROW_FILE, ARROW_STREAM, INGEST_MEDIA_TYPES, NDJSON } from '../http/media-types.ts'

export type Body = NodeJS.ReadableStream | AsyncIterable<Uint8Array>

/** Reads a whole body, counting bytes; over maxBytes → PayloadTooLargeError before buffering more. */
export async function readAll (body: Body, maxBytes: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let n = 0
  for await (const c of body as AsyncIterable<Uint8Array | string>) {
    const chunk = typeof c === 'string' ? Buffer.from(c) : c
    n += chunk.byteLength
    if (n > maxBytes) throw new PayloadTooLargeError(maxBytes)
    parts.push(chunk)
  }
  return Buffer.concat(parts, n)
}

export interface IngestBody {
  topic: TopicRecord
  /** Normalised to the topic's schema and field order. */
  batches: RecordBatch[]
  rows: number
  bytes: number
}

export interface ReadBodyOptions {
  mediaType: string
  body: Body
  topic: string
  catalog: TopicLookup
  autoCreate: boolean
  maxBytes: number
  /** MAX_JSON_ROW_BYTES: the longest NDJSON line or JSON array element. */
  maxJsonRowBytes?: number
  /** For an Arrow stream: where message bodies are assembled (src/arrow/buffer-pool.ts). */
  alloc?: (n: number) => Uint8Array
}

/**
 * Reads and validates a whole ingest body (all-or-nothing). Nothing is kept or created unless
 * every byte was read and checked: an Arrow stream that auto-creates its topic does so only
 * after it was read to the end. JSON bodies need an existing topic (its schema types them).
 */
export async function readIngestBody (o: ReadBodyOptions): Promise<IngestBody> {
  if (!INGEST_MEDIA_TYPES.includes(o.mediaType)) throw new UnsupportedMediaTypeError(o.mediaType || '(none)')
  const existing = await o.catalog.get(o.topic)
  const isArrow = o.mediaType === ARROW_STREAM || o.mediaType === ARROW_FILE
  if (!existing && !(isArrow && o.autoCreate)) throw new TopicNotFoundError(o.topic)
  const limits = { maxBytes: o.maxBytes }
  if (isArrow) {
    const payload = o.mediaType === ARROW_STREAM
      ? await readArrowStream(o.body, { ...limits, alloc: o.alloc })
      : await readArrowFile(await readAll(o.body, o.maxBytes), limits)
    const topic = existing ? await evolveForStream(o.catalog, existing, payload) : await resolveTopic(o.catalog, o.topic, payload.schema, o.autoCreate)
    return { topic, batches: await validateStreamPaced(topic, payload, { alloc: o.alloc }), rows: payload.rows, bytes: payload.bytes }
  }
  const topic = existing!
  const opts = { ...limits, maxRowBytes: o.maxJsonRowBytes, schema: topicArrowSchema(topic) }
  const payload = o.mediaType === NDJSON ? await readNdjson(o.body, opts) : await readJsonArrayStream(o.body as AsyncIterable<Uint8Array>, opts)
  return { topic, batches: payload.batches, rows: payload.rows, bytes: payload.bytes }
}
