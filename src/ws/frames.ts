/** Text frames the server sends on a `quiver.v1` ingest connection (acks and errors, README "WebSocket"). */
export type Frame =
  /** `replayed`: a keyed message stored before (README "Exactly-once over WebSocket"); absent otherwise. */
  | { type: 'ack', seq: number, rows: number, replayed?: true }
  | { type: 'error', seq: number, code: string, message: string }

export function errorFrame (seq: number, code: string, message: string): Frame {
  return { type: 'error', seq, code, message }
}

/** Close codes used by the WebSocket routes (RFC 6455 §7.4.1). */
export const CLOSE = {
  goingAway: 1001,
  policyViolation: 1008,
  messageTooBig: 1009,
  tryAgainLater: 1013
} as const

/**
 * How a socket opened with a revocable (minted) token ends when the revocation list says so:
 * revoked is a policy violation; a list that could not be read for three polls means the token
 * can no longer be checked, so the socket closes as new requests are refused (503), to be retried.
 */
export function revokedClose (why: 'revoked' | 'unverifiable'): { code: number, reason: string } {
  return why === 'revoked'
    ? { code: CLOSE.policyViolation, reason: 'token revoked' }
    : { code: CLOSE.tryAgainLater, reason: 'token revocation list unavailable' }
}
