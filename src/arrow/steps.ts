/*
 * Whole-column work (converting a 500,000-row batch to the topic's types) written as generators
 * that yield between slices of rows. A synchronous caller runs them through at once (`runSteps`);
 * the ingest path paces them (src/arrow/normalise-paced.ts), so the event loop gets a turn between
 * slices instead of waiting for the whole batch. No node: imports: src/arrow/convert.ts uses this
 * and is reachable from modules bundled for the browser.
 */

/** Work that yields (nothing) between slices and returns its result. */
export type Steps<T> = Generator<void, T, undefined>

/**
 * Rows per slice. The slowest per-row loop here (gathering dictionary strings into fresh memory)
 * does ~16k rows in 1-3 ms on the 2-core VM, so with the pacing's 10 ms look at the clock no
 * synchronous stretch grows much past it, while a 500k-row column pays ~30 yields (µs each).
 */
export const STEP_ROWS = 16_384

/** Bytes copied per slice when values are long (a few long strings must not make one long step). */
export const STEP_BYTES = 4 * 1024 * 1024

/** Runs `steps` to the end without pausing. */
export function runSteps<T> (steps: Steps<T>): T {
  for (;;) {
    const r = steps.next()
    if (r.done === true) return r.value
  }
}
