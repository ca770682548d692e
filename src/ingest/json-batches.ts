import type { RecordBatch, Schema } from 'apache-arrow'
import type { ArrowBatchStream } from '../arrow/decode.ts'
import type { TopicRecord } from '../schema/topic-schema.ts'
import { readNdjson } from '../arrow/json.ts'
import { NDJSON } from '../http/media-types.ts'
import { readJsonArrayStream } from './json-array.ts'
import { topicArrowSchema } from '../arrow/topic-arrow-schema.ts'

/** A push-style JSON reader (readNdjson, readJsonArrayStream) handing each converted batch to `onBatch`. */
export type JsonBatchReader = (source: AsyncIterable<Uint8Array>, onBatch: (batch: RecordBatch) => Promise<void>) => Promise<unknown>

class Abandoned extends Error {}

/**
 * A JSON body as the ArrowBatchStream that staging consumes (src/ingest/large-request.ts), so
 * NDJSON and JSON arrays take the same bounded path as Arrow streams: the reader converts rows in
 * batches and waits in `onBatch` until the consumer took the previous one, so at most two
 * converted batches exist between them whatever the body size. `bytes` counts the body as read
 * (staging decides on it); a consumer that stops early releases the reader with an error it
 * never sees.
 */
export function jsonBatchStream (body: AsyncIterable<Uint8Array | string>, schema: Schema, read: JsonBatchReader): ArrowBatchStream {
  let bytes = 0
  let rows = 0
  let slot: { batch: RecordBatch, taken: () => void, drop: (err: Error) => void } | null = null
  let wake: (() => void) | null = null
  let finished = false
  let failure: unknown = null
  let abandoned = false
  const signal = (): void => { const w = wake; wake = null; w?.() }

  async function * counted (): AsyncGenerator<Uint8Array> {
    for await (const c of body) {
      const chunk = typeof c === 'string' ? Buffer.from(c) : c
      bytes += chunk.byteLength
      yield chunk
    }
  }
  read(counted(), async (batch) => {
    if (abandoned) throw new Abandoned()
    await new Promise<void>((resolve, reject) => { slot = { batch, taken: resolve, drop: reject }; signal() })
  }).then(() => { finished = true; signal() }, (err: unknown) => { failure = err; finished = true; signal() })

  async function * batches (): AsyncGenerator<RecordBatch> {
    try {
      for (;;) {
        const s = slot as typeof slot
        if (s !== null) {
          slot = null
          rows += s.batch.numRows
          s.taken()
          yield s.batch
          continue
        }
        if (finished) {
          if (failure !== null && !(failure instanceof Abandoned)) throw failure
          return
        }
        await new Promise<void>((resolve) => { wake = resolve })
      }
    } finally {
      if (!finished) {
        abandoned = true
        ;(slot as typeof slot)?.drop(new Abandoned())
        slot = null
      }
    }
  }
  return { schema, batches: batches(), get bytes () { return bytes }, get rows () { return rows } }
}

/** An NDJSON or JSON-array body of `topic`, converted with its schema, as a stream of batches. */
export function openJsonBody (body: AsyncIterable<Uint8Array | string>, mediaType: string, topic: TopicRecord, maxBytes: number, maxRowBytes?: number): ArrowBatchStream {
  const schema = topicArrowSchema(topic)
  return jsonBatchStream(body, schema, async (source, onBatch) => mediaType === NDJSON
    ? await readNdjson(source, { maxBytes, maxRowBytes, schema, onBatch })
    : await readJsonArrayStream(source, { maxBytes, maxRowBytes, schema, onBatch }))
}
