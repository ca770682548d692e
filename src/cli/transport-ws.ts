import WebSocket from 'ws'
import type { ApiClient } from './api.ts'
import { DeliveryError, RETRYABLE_CODES } from './errors.ts'
import type { Ack, Transport } from './transport-http.ts'

interface Pending { resolve: (ack: Ack) => void, reject: (err: Error) => void, rows: number }
/** Sequence numbers and waiting chunks belong to one connection. */
interface Conn { ws: WebSocket, seq: number, pending: Map<number, Pending> }

export function wsUrl (api: ApiClient, path: string): string {
  const url = new URL(path, api.url)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  return url.href
}

/** Subprotocols: the token rides beside `quiver.v1` so no header is needed (the server never echoes it). */
export function wsProtocols (api: ApiClient): string[] {
  return api.token ? ['quiver.v1', `bearer.${api.token}`] : ['quiver.v1']
}

/**
 * One WebSocket to `/stream`: each chunk is one binary message; the server numbers them 1, 2, 3…
 * per connection and acks in order, so acks are matched by sequence number. Messages are
 * pipelined (the caller bounds how many). When the connection drops, every unacknowledged chunk
 * fails with a retryable error and the next send opens a new connection (numbering restarts).
 */
export function createWsTransport (api: ApiClient, topic: string): Transport {
  const url = wsUrl(api, `/v1/topics/${encodeURIComponent(topic)}/stream`)
  let current: Conn | null = null
  let opening: Promise<Conn> | null = null

  const connect = (): Promise<Conn> => {
    if (current?.ws.readyState === WebSocket.OPEN) return Promise.resolve(current)
    if (opening) return opening
    opening = new Promise((resolve, reject) => {
      const ws = new WebSocket(url, wsProtocols(api), { perMessageDeflate: false, maxPayload: 16 << 20 })
      const conn: Conn = { ws, seq: 0, pending: new Map() }
      const pending = conn.pending
      ws.once('open', () => { current = conn; opening = null; resolve(conn) })
      ws.once('unexpected-response', (_req, res) => {
        opening = null
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const status = res.statusCode ?? 0
          const retryable = status === 408 || status === 429 || status >= 500
          reject(new DeliveryError(`WebSocket ${url}: ${status} ${Buffer.concat(chunks).toString().slice(0, 300)}`, retryable))
        })
      })
      ws.once('error', (err) => {
        if (opening) { opening = null; reject(new DeliveryError(`WebSocket ${url}: ${err.message}`, true)) }
      })
      ws.on('message', (data, isBinary) => {
        if (isBinary) return
        const frame = JSON.parse(data.toString()) as { type: string, seq: number, rows?: number, replayed?: boolean, code?: string, message?: string }
        const p = pending.get(frame.seq)
        if (!p) return
        pending.delete(frame.seq)
        if (frame.type === 'ack') {
          if (frame.rows !== p.rows) p.reject(new DeliveryError(`the gateway acknowledged ${frame.rows} rows of ${p.rows}`, false))
          else p.resolve({ rows: p.rows, replayed: frame.replayed === true })
        } else {
          const code = frame.code ?? 'QUIVER_UNKNOWN'
          p.reject(new DeliveryError(`${code}: ${frame.message}`, RETRYABLE_CODES.has(code), undefined, code))
        }
      })
      ws.on('close', (code, reason) => {
        if (current === conn) current = null
        // 1008 (token expired / policy) and 1009 (message too big) will not get better by retrying.
        const fatal = code === 1008 || code === 1009
        const err = new DeliveryError(`WebSocket closed ${code} ${reason.toString()}`.trim(), !fatal)
        for (const p of pending.values()) p.reject(err)
        pending.clear()
      })
    })
    return opening
  }

  return {
    async send (ipc, rows, key) {
      const conn = await connect()
      if (conn.ws.readyState !== WebSocket.OPEN) throw new DeliveryError('WebSocket closed before sending', true)
      const n = ++conn.seq
      return await new Promise<Ack>((resolve, reject) => {
        conn.pending.set(n, { resolve, reject, rows })
        // The key rides in a text frame announcing the next message (README "Exactly-once over WebSocket").
        if (key !== undefined) conn.ws.send(JSON.stringify({ type: 'key', key }))
        conn.ws.send(ipc, { binary: true }, (err) => {
          if (err && conn.pending.delete(n)) reject(new DeliveryError(`WebSocket send: ${err.message}`, true))
        })
      })
    },
    async close () {
      const ws = current?.ws
      if (!ws) return
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve())
        ws.close(1000, 'done')
        setTimeout(() => { ws.terminate(); resolve() }, 2000).unref()
      })
    }
  }
}
