import { constants } from 'node:buffer'
import type { Schema, Field } from 'apache-arrow'

/**
 * Most milliseconds of synchronous work a JSON reader does before it lets the event loop turn
 * (CONTRACT §13: one request never stalls the others; /healthz stays fast). A readable stream
 * hands over buffered chunks in microtasks, so reading a fast body would otherwise run for as
 * long as the kernel keeps data coming: 5,000,000 lines of `{}` held the loop for up to 2 s.
 */
export const SLICE_MS = 10

/** Elements (lines, array elements) handled between two looks at the clock. */
export const CHECK_EVERY = 256

/**
 * A batch is cut at `batchRows` rows, or earlier once it holds this many cells (rows × fields at
 * every depth) or this many bytes of JSON: converting a batch is one synchronous step, so it is
 * bounded for wide schemas and large rows too.
 */
export const BATCH_CELLS = 1_000_000
export const BATCH_BYTES = 8 * 1024 * 1024

/**
 * The longest line or array element that can be read at all: V8's longest string (a row is parsed
 * by JSON.parse from one string), so the most MAX_JSON_ROW_BYTES may be.
 */
export const MAX_ELEMENT_BYTES = constants.MAX_STRING_LENGTH

/**
 * MAX_JSON_ROW_BYTES' default. A row is joined, parsed and converted in three synchronous steps of
 * ~10 ms per MiB each (fresh memory; one 200 MiB string value held the loop 2-3 s per step), so
 * this keeps each step near 200 ms. Arrow bodies have no such bound: they are copied in slices.
 */
export const DEFAULT_MAX_ROW_BYTES = 16 * 1024 * 1024

/**
 * Resolves after the event loop polled for I/O once. One setImmediate is not enough: called from
 * an I/O callback (a body chunk arrived), it runs in the same loop iteration's check phase,
 * before any new connection or request is looked at.
 */
export function nextTurn (): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)))
}

/** Tracks how long the current synchronous stretch ran; `pause()` ends it once SLICE_MS passed. */
export class Slicer {
  #since = performance.now()

  /** Lets other requests, timers and I/O run if this stretch took SLICE_MS or more. */
  async pause (): Promise<void> {
    if (performance.now() - this.#since < SLICE_MS) return
    await nextTurn()
    this.#since = performance.now()
  }
}

function leaves (f: Field): number {
  const kids = f.type.children as Field[] | null
  return kids === null || kids.length === 0 ? 1 : kids.reduce((n, c) => n + leaves(c), 1)
}

/** Rows per batch for `schema`: `batchRows`, fewer when the schema is so wide that the batch would pass BATCH_CELLS. */
export function rowsPerBatch (schema: Schema, batchRows: number): number {
  const cells = schema.fields.reduce((n, f) => n + leaves(f), 0)
  return Math.max(1, Math.min(batchRows, Math.floor(BATCH_CELLS / Math.max(1, cells))))
}
