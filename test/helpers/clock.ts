import { createClock } from '@sinonjs/fake-timers'
import type { Clock } from '../../src/clock.ts'

export interface ManualClock extends Clock {
  /** Moves time forward by `ms`, firing due timers in order and letting promises settle between them. */
  advance (ms: number): Promise<void>
  /** A promise that resolves once the clock has been advanced by `ms`. */
  sleep (ms: number): Promise<void>
}

/**
 * A clock that only moves when the test says so (@sinonjs/fake-timers, not installed globally:
 * only what is handed this clock sees fake time), for the batcher and the pipeline.
 */
export function manualClock (): ManualClock {
  const fake = createClock(0)
  return {
    now: () => fake.now,
    setTimeout: (fn, ms) => fake.setTimeout(fn, ms),
    clearTimeout: (handle) => fake.clearTimeout(handle as ReturnType<typeof fake.setTimeout>),
    advance: async (ms) => { await fake.tickAsync(ms) },
    sleep: (ms) => new Promise<void>((resolve) => { fake.setTimeout(() => resolve(), ms) })
  }
}
