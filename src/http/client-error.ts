import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'

/** Node's connection-level errors mapped to Quiver's JSON error shape, so clients parse one shape for every failure. */
const ANSWERS: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'QUIVER_REQUEST_TIMEOUT', 'The request was not received within the request timeout'],
  HPE_HEADER_OVERFLOW: [431, 'QUIVER_HEADERS_TOO_LARGE', 'Request headers are too large']
}
const DEFAULT: [number, string, string] = [400, 'QUIVER_BAD_REQUEST', 'Malformed HTTP request']

/**
 * Fastify `clientErrorHandler`: answers errors Node raises before (or while) a request reaches
 * the router — slow clients cut by `requestTimeout`/`headersTimeout`, oversized headers, bad
 * HTTP — with the usual JSON body, then drops the connection. Nothing from the error is echoed.
 */
export function clientErrorHandler (err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [statusCode, code, message] = ANSWERS[err.code ?? ''] ?? DEFAULT
  const body = JSON.stringify({ statusCode, code, error: STATUS_CODES[statusCode], message })
  // A response already under way cannot be replaced: just drop the connection then. Node's
  // `_httpMessage` is the only way to know (test/internals.test.ts).
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage
  if (socket.writable && !inFlight?.headersSent) {
    socket.write(`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  }
  socket.destroy()
}

/**
 * Node checks request deadlines on a timer (every 30 s by default): tighten it so a small
 * REQUEST_TIMEOUT_MS is enforced within a quarter of itself.
 */
export function timeoutOptions (requestTimeoutMs: number): { requestTimeout: number, headersTimeout: number, connectionsCheckingInterval: number } {
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(60_000, requestTimeoutMs),
    connectionsCheckingInterval: Math.max(250, Math.min(30_000, Math.floor(requestTimeoutMs / 4)))
  }
}
