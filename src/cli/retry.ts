import { setTimeout as sleep } from 'node:timers/promises'
import { DeliveryError } from './errors.ts'

export interface RetryOptions {
  retries: number
  baseMs?: number
  maxMs?: number
  signal?: AbortSignal
  onRetry?: (err: DeliveryError, attempt: number, delayMs: number) => void
}

/**
 * Runs `attempt` until it succeeds, a non-retryable error occurs or the retries are spent.
 * Exponential backoff with full jitter; a server's Retry-After wins when it is longer.
 */
export async function withRetry<T> (attempt: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const base = opts.baseMs ?? 250
  const max = opts.maxMs ?? 10_000
  for (let n = 0; ; n++) {
    try {
      return await attempt()
    } catch (err) {
      const e = err instanceof DeliveryError ? err : new DeliveryError((err as Error).message, false)
      if (!e.retryable || n >= opts.retries || opts.signal?.aborted) throw e
      const backoff = Math.random() * Math.min(max, base * 2 ** n)
      const delay = Math.max(backoff, e.retryAfterMs ?? 0)
      opts.onRetry?.(e, n + 1, delay)
      await sleep(delay, undefined, { signal: opts.signal }).catch(() => {})
      if (opts.signal?.aborted) throw e
    }
  }
}
