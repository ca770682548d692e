import { DataType, tableFromIPC, type Field } from 'apache-arrow'
import WebSocket from 'ws'
import type { ApiClient } from './api.ts'
import { wsProtocols, wsUrl } from './transport-ws.ts'

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
 * gateway accepted; each row is printed as one NDJSON line. Resolves with the number of rows printed.
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
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return
      const table = tableFromIPC(data as Buffer)
      const fields = table.schema.fields
      for (const row of table) {
        const obj: Record<string, unknown> = {}
        for (const f of fields) obj[f.name] = jsonValue(f, (row as unknown as Record<string, unknown>)[f.name])
        opts.out(JSON.stringify(obj))
        printed++
        if (opts.limit && printed >= opts.limit) return finish()
      }
    })
    ws.once('close', (code, reason) => {
      if (code === 1000 || code === 1001 || code === 1005) resolve(printed)
      else reject(new Error(`tail: connection closed ${code} ${reason.toString()}`.trim()))
    })
  })
}

/** JSON-friendly values: int64 as a number when exact (else a string), timestamps and dates as ISO strings. */
export function jsonValue (field: Field, v: unknown): unknown {
  if (v === null || v === undefined) return null
  const type = field.type
  if ((DataType.isTimestamp(type) || DataType.isDate(type)) && (typeof v === 'number' || typeof v === 'bigint')) {
    return new Date(Number(v)).toISOString()
  }
  if (typeof v === 'bigint') return v >= Number.MIN_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER ? Number(v) : v.toString()
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64')
  if (typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    return JSON.parse(JSON.stringify(v, (_k, x) => typeof x === 'bigint' ? x.toString() : x))
  }
  return v
}
