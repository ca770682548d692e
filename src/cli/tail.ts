import { tableFromIPC } from 'apache-arrow'
import WebSocket from 'ws'
import type { ApiClient } from './api.ts'
import { wsProtocols, wsUrl } from './transport-ws.ts'
import { ndjsonLines } from '../read/ndjson-out.ts'

export interface TailOptions {
  api: ApiClient
  topic: string
  /** Stop after this many rows (0: until interrupted or the server closes). */
  limit: number
  out: (line: string) => void
  signal?: AbortSignal
  onOpen?: () => void
}

/**
 * Follows `/v1/topics/{topic}/tail`: every binary message is an Arrow IPC stream of rows the
 * gateway accepted (with its `__ingested_at`); each row is printed as one NDJSON line, formatted as
 * `GET …/records` formats them (timestamps in µs). Resolves with the number of rows printed.
 */
export async function tail (opts: TailOptions): Promise<number> {
  const ws = new WebSocket(wsUrl(opts.api, `/v1/topics/${encodeURIComponent(opts.topic)}/tail`), wsProtocols(opts.api), { perMessageDeflate: false })
  let printed = 0
  return await new Promise<number>((resolve, reject) => {
    const finish = () => { ws.close(1000); resolve(printed) }
    opts.signal?.addEventListener('abort', finish, { once: true })
    ws.once('open', () => opts.onOpen?.())
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => reject(new Error(`tail: ${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 300)}`)))
    })
    ws.once('error', reject)
    let done = false
    ws.on('message', (data, isBinary) => {
      // Frames already in flight when the limit was reached are not printed.
      if (!isBinary || done) return
      for (const batch of tableFromIPC(data as Buffer).batches) {
        for (const line of ndjsonLines(batch)) {
          opts.out(line.slice(0, -1))
          printed++
          if (opts.limit && printed >= opts.limit) {
            done = true
            return finish()
          }
        }
      }
    })
    ws.once('close', (code, reason) => {
      if (code === 1000 || code === 1001 || code === 1005) resolve(printed)
      else reject(new Error(`tail: connection closed ${code} ${reason.toString()}`.trim()))
    })
  })
}
