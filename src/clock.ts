/**
 * Time as the pipeline schedules by: flush windows, retry backoff. Injected (batcher and
 * pipeline take one) so tests move time forward instead of sleeping through it.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale: only differences mean anything. */
  now (): number
  setTimeout (fn: () => void, ms: number): unknown
  clearTimeout (handle: unknown): void
}

/** performance.now(): a wall-clock step (NTP, a VM resumed) never stretches or skips a window. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout)
}
