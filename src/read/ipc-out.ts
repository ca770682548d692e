import type { RecordBatch, Schema } from 'apache-arrow'
import { toIpcStream } from '../arrow/encode.ts'
import { Slicer } from '../arrow/json-slices.ts'
import { SLICE_ROWS } from './conform.ts'
const EOS = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])

/** Length of the leading schema message of an IPC stream: continuation, length, flatbuffer. */
function schemaMessageLength (ipc: Uint8Array): number {
  return 8 + new DataView(ipc.buffer, ipc.byteOffset + 4, 4).getInt32(0, true)
}

/**
 * One Arrow IPC stream written as its batches arrive: the schema with the first batch, then each
 * batch's messages (dictionaries included), then end-of-stream. Pulled by the response stream, so
 * nothing is produced faster than the client reads. Every batch is written with the first batch's
 * schema; with no batch at all the answer is `fallback` and no rows. `slicer` is the request's: the
 * event loop gets a turn (not only microtasks) between messages once a stretch took SLICE_MS.
 */
export async function * arrowStreamOut (batches: AsyncIterable<RecordBatch>, fallback: Schema, slicer = new Slicer()): AsyncGenerator<Uint8Array> {
  let schema: Schema | null = null
  for await (const batch of batches) {
    // A decoded row group can hold a million rows: written in slices, so each message stays
    // small and each encoding is one bounded step (conformTo hands them on cut already).
    for (let at = 0; at < batch.numRows; at += SLICE_ROWS) {
      const b = at === 0 && batch.numRows <= SLICE_ROWS ? batch : batch.slice(at, at + SLICE_ROWS)
      const first = schema === null
      schema ??= b.schema
      const ipc = toIpcStream([b], schema)
      yield ipc.subarray(first ? 0 : schemaMessageLength(ipc), ipc.byteLength - EOS.byteLength)
      await slicer.pause()
    }
  }
  yield schema === null ? toIpcStream([], fallback) : EOS
}
