import { Readable } from 'node:stream'
import { Client } from 'undici'
import { ipcParts } from './data.ts'

export interface IngestLoadResult {
  requests: number
  rows: number
  bytes: number
  seconds: number
  latenciesMs: number[]
  errors: string[]
}

/** One request body: the schema, `batches` copies of the batch message, then end-of-stream; no copies made. */
async function * body (parts: ReturnType<typeof ipcParts>, batches: number): AsyncGenerator<Uint8Array> {
  yield parts.schema
  for (let i = 0; i < batches; i++) yield parts.batch
  yield parts.eos
}

export interface IngestLoadOptions {
  url: string
  topic: string
  token: string
  clients: number
  batchesPerRequest: number
  rowsPerBatch: number
  /** Stop starting requests after this long … */
  seconds: number
  /** … or after this many requests in total, whichever comes first. */
  maxRequests: number
  ack?: 'durable' | 'accepted'
}

/**
 * `clients` HTTP/1.1 connections, each sending one streamed Arrow request at a time and waiting
 * for its (durable) answer. Bounded by time and by request count.
 */
export async function runIngestLoad (o: IngestLoadOptions): Promise<IngestLoadResult> {
  const parts = ipcParts(o.rowsPerBatch)
  const bytesPerRequest = parts.schema.byteLength + parts.batch.byteLength * o.batchesPerRequest + parts.eos.byteLength
  const path = `/v1/topics/${o.topic}/records?ack=${o.ack ?? 'durable'}`
  const res: IngestLoadResult = { requests: 0, rows: 0, bytes: 0, seconds: 0, latenciesMs: [], errors: [] }
  let started = 0
  const t0 = performance.now()
  const deadline = t0 + o.seconds * 1000
  const worker = async (): Promise<void> => {
    const client = new Client(o.url, { headersTimeout: 300_000, bodyTimeout: 300_000 })
    try {
      while (performance.now() < deadline && started < o.maxRequests && res.errors.length < 5) {
        started++
        const t = performance.now()
        const r = await client.request({
          method: 'POST',
          path,
          headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/vnd.apache.arrow.stream', 'content-length': String(bytesPerRequest) },
          body: Readable.from(body(parts, o.batchesPerRequest), { objectMode: false })
        })
        const text = await r.body.text()
        if (r.statusCode !== 200 && r.statusCode !== 202) {
          res.errors.push(`${r.statusCode} ${text.slice(0, 200)}`)
          continue
        }
        const answer = JSON.parse(text) as { rows: number }
        res.latenciesMs.push(performance.now() - t)
        res.requests++
        res.rows += answer.rows
        res.bytes += bytesPerRequest
      }
    } finally {
      await client.close()
    }
  }
  await Promise.all(Array.from({ length: o.clients }, worker))
  res.seconds = (performance.now() - t0) / 1000
  return res
}
