import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export type FaultMode =
  | 'pass' // forward to the target
  | 'refuse' // close every new connection at once
  | 'reset' // read the request, then reset the connection (ECONNRESET)
  | 'stall' // accept the request and never answer (until the mode changes or teardown)
  | 'slowdown' // answer 503 with S3's SlowDown error
  | { status: number, body?: string, contentType?: string, methods?: string[] } // answer this status (only to these methods, when given; pass the others)
  | { stallMethods: string[], status?: never } // stall requests with these methods (e.g. writes: PUT, POST), pass the others
  | { answer: AnswerHook, status?: never } // forward, then hold the target's whole answer until the hook says: pass it back or drop the connection

/** Sees an answer the target gave (the request was fully handled there) before the client does. */
export type AnswerHook = (r: { method: string, path: string, status: number }) => Promise<'pass' | 'drop'> | 'pass' | 'drop'

export interface FaultProxy {
  url: string
  port: number
  /** Every request seen, in order (also the ones a fault answered). */
  requests: Array<{ method: string, path: string, at: number }>
  /**
   * Calls `fn` with every request as it arrives, after its fault was chosen: a mode set in `fn`
   * applies from the next request on (e.g. "fail the requests after the first one").
   */
  onRequest (fn: (r: { method: string, path: string, at: number }) => void): void
  /** Connections closed at once in mode 'refuse', new ones (no request recorded) and kept-alive ones alike. */
  refusedConnections (): number
  mode (m: FaultMode): void
  current (): FaultMode
  reset (): void
  close (): Promise<void>
}

const SLOWDOWN = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>'

/**
 * An HTTP forwarding proxy for real network faults in front of a real server (s3rver, cognito-local).
 * The Host header is forwarded unchanged so SigV4 signatures stay valid.
 */
export async function startFaultProxy (t: { teardown: (fn: () => unknown) => void }, target: string): Promise<FaultProxy> {
  const to = new URL(target)
  let mode: FaultMode = 'pass'
  const requests: FaultProxy['requests'] = []
  const sockets = new Set<Socket>()
  const stalled = new Set<ServerResponse>()
  let refusedConnections = 0
  const listeners: Array<(r: { method: string, path: string, at: number }) => void> = []

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const seen = { method: req.method ?? 'GET', path: req.url ?? '/', at: Date.now() }
    requests.push(seen)
    const m = mode
    for (const fn of listeners) fn(seen)
    if (m === 'stall' || (typeof m === 'object' && 'stallMethods' in m && m.stallMethods.includes(req.method ?? ''))) {
      stalled.add(res)
      req.resume()
      return
    }
    if (m === 'reset' || m === 'refuse') {
      if (m === 'refuse') refusedConnections++
      req.resume()
      req.socket.resetAndDestroy()
      return
    }
    const statusFor = typeof m === 'object' && !('stallMethods' in m) && !('answer' in m) && (m.methods === undefined || m.methods.includes(req.method ?? ''))
    if (m === 'slowdown' || statusFor) {
      const status = m === 'slowdown' ? 503 : (m as { status: number }).status
      const body = m === 'slowdown' ? SLOWDOWN : ((m as { body?: string }).body ?? '')
      req.resume()
      req.on('end', () => {
        res.writeHead(status, { 'content-type': m === 'slowdown' ? 'application/xml' : ((m as { contentType?: string }).contentType ?? 'application/xml'), 'content-length': Buffer.byteLength(body) })
        res.end(body)
      })
      return
    }
    const upstream = httpRequest({
      host: to.hostname,
      port: to.port,
      method: req.method,
      path: req.url,
      headers: req.headers
    }, (up) => {
      if (typeof m === 'object' && 'answer' in m) {
        const chunks: Buffer[] = []
        up.on('data', (c: Buffer) => chunks.push(c))
        up.on('end', () => {
          Promise.resolve(m.answer({ method: req.method ?? 'GET', path: req.url ?? '/', status: up.statusCode ?? 502 })).then((d) => {
            if (d === 'drop') { req.socket.destroy(); return }
            res.writeHead(up.statusCode ?? 502, up.headers)
            res.end(Buffer.concat(chunks))
          }, () => req.socket.destroy())
        })
        return
      }
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    upstream.on('error', () => req.socket.destroy())
    req.pipe(upstream)
  })
  server.on('connection', (socket: Socket) => {
    if (mode === 'refuse') {
      refusedConnections++
      socket.resetAndDestroy()
      return
    }
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port

  const releaseStalled = (): void => {
    for (const res of stalled) res.socket?.destroy()
    stalled.clear()
  }
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    releaseStalled()
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(close)
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    refusedConnections: () => refusedConnections,
    onRequest: (fn) => { listeners.push(fn) },
    mode (m) {
      if (stalled.size > 0 && m !== 'stall') releaseStalled()
      mode = m
    },
    current: () => mode,
    reset () { requests.length = 0; refusedConnections = 0 },
    close
  }
}
