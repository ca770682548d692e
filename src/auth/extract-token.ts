import { TokenRejectedError } from './rejection.ts'

export interface TokenSources {
  headers: Record<string, string | string[] | undefined>
  query?: unknown
}

const BEARER = /^Bearer ([^\s,]+)$/i
const SUBPROTOCOL_PREFIX = 'bearer.'

/**
 * The bearer token of a request. A present but malformed Authorization header is refused
 * outright rather than falling back to other sources. Browsers cannot set headers on a
 * WebSocket, so upgrades may also carry the token as subprotocol `bearer.<jwt>` or `?access_token=`.
 */
export function extractToken ({ headers, query }: TokenSources): string {
  const authorization = headers.authorization
  if (authorization !== undefined) {
    const m = typeof authorization === 'string' ? BEARER.exec(authorization) : null
    if (!m) throw new TokenRejectedError('malformed_header')
    return m[1]
  }
  if (String(headers.upgrade ?? '').toLowerCase() === 'websocket') {
    const protocols = String(headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim())
    const sub = protocols.find((p) => p.startsWith(SUBPROTOCOL_PREFIX))
    if (sub !== undefined && sub.length > SUBPROTOCOL_PREFIX.length) return sub.slice(SUBPROTOCOL_PREFIX.length)
    const fromQuery = query !== null && typeof query === 'object' ? (query as Record<string, unknown>).access_token : undefined
    if (typeof fromQuery === 'string' && fromQuery !== '') return fromQuery
  }
  throw new TokenRejectedError('missing_token')
}
