import { TokenRejectedError } from './rejection.ts'

export interface TokenSources {
  headers: Record<string, string | string[] | undefined>
  /**
   * The headers as received (name, value, name, value…): Node keeps only the first of two
   * Authorization headers in `headers`, so a second one is seen only here.
   */
  rawHeaders?: string[]
  query?: unknown
  /** True only for a real WebSocket handshake to a WebSocket route (see isWebSocketHandshake). */
  upgrade?: boolean
}

const BEARER = /^Bearer ([^\s,]+)$/i
const SUBPROTOCOL_PREFIX = 'bearer.'
/** RFC 6455 §4.1: the key is 16 random bytes, base64. */
const WS_KEY = /^[A-Za-z0-9+/]{22}==$/

const header = (headers: TokenSources['headers'], name: string): string => {
  const v = headers[name]
  return typeof v === 'string' ? v : ''
}

/**
 * A WebSocket opening handshake as RFC 6455 §4.1 spells it: GET, `Connection: upgrade`,
 * `Upgrade: websocket`, a well-formed `Sec-WebSocket-Key` and version 13. A REST request that
 * merely carries `Upgrade: websocket` is not one, so it cannot use the URL or subprotocol token.
 */
export function isWebSocketHandshake (method: string, headers: TokenSources['headers']): boolean {
  return method === 'GET' &&
    header(headers, 'upgrade').toLowerCase() === 'websocket' &&
    header(headers, 'connection').toLowerCase().split(',').some((t) => t.trim() === 'upgrade') &&
    WS_KEY.test(header(headers, 'sec-websocket-key')) &&
    header(headers, 'sec-websocket-version') === '13'
}

/**
 * The bearer token of a request. A present but malformed Authorization header is refused
 * outright rather than falling back to other sources. Browsers cannot set headers on a
 * WebSocket, so real upgrades may also carry the token as subprotocol `bearer.<jwt>` or `?access_token=`.
 */
export function extractToken ({ headers, rawHeaders, query, upgrade }: TokenSources): string {
  const authorization = headers.authorization
  if (authorization !== undefined) {
    // Two of them: a proxy reading the last would authorize another principal than we do.
    if (rawHeaders !== undefined && countHeader(rawHeaders, 'authorization') > 1) throw new TokenRejectedError('malformed_header', 'more than one Authorization header')
    const m = typeof authorization === 'string' ? BEARER.exec(authorization) : null
    if (!m) throw new TokenRejectedError('malformed_header')
    return m[1]
  }
  if (upgrade === true) {
    const protocols = String(headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim())
    const sub = protocols.find((p) => p.startsWith(SUBPROTOCOL_PREFIX))
    if (sub !== undefined && sub.length > SUBPROTOCOL_PREFIX.length) return sub.slice(SUBPROTOCOL_PREFIX.length)
    const fromQuery = query !== null && typeof query === 'object' ? (query as Record<string, unknown>).access_token : undefined
    if (typeof fromQuery === 'string' && fromQuery !== '') return fromQuery
  }
  throw new TokenRejectedError('missing_token')
}

/** How many headers named `name` (lower case) a raw header list holds. */
export function countHeader (raw: string[], name: string): number {
  let n = 0
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === name.length && raw[i].toLowerCase() === name) n++
  return n
}
