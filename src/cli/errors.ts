/**
 * A failed delivery attempt. `retryable` errors (network, 5xx, 408, 429, overload, connection
 * lost) send the same chunk again after a backoff; the others stop the run.
 */
export class DeliveryError extends Error {
  constructor (message: string, readonly retryable: boolean, readonly retryAfterMs?: number, readonly code?: string) {
    super(message)
    this.name = 'DeliveryError'
  }
}

export const RETRYABLE_CODES = new Set([
  'QUIVER_OVERLOADED', 'QUIVER_STORAGE_UNAVAILABLE', 'QUIVER_SHUTTING_DOWN', 'QUIVER_AUTH_UNAVAILABLE', 'QUIVER_RATE_LIMITED', 'QUIVER_INTERNAL',
  // The batch's key is still being processed (an earlier attempt, or a gateway that died holding it).
  'QUIVER_IDEMPOTENCY_IN_FLIGHT'
])

export function isRetryableStatus (status: number): boolean {
  return status === 408 || status === 429 || status >= 500
}

/** `{code, message}` of a Quiver error body, or the raw text when it is not one. */
export function describeErrorBody (status: number, text: string): { code?: string, message: string } {
  try {
    const body = JSON.parse(text) as { code?: string, message?: string }
    if (body && typeof body.message === 'string') return { code: body.code, message: `${status} ${body.code ?? ''}: ${body.message}` }
  } catch {}
  return { message: `${status}: ${text.slice(0, 300) || 'empty response'}` }
}
