import type { RecordBatch, Schema } from 'apache-arrow'
import { toIpcStream } from '../arrow/encode.ts'

const SLICE_ROWS = 65_536
const EOS = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])

/** Length of the leading schema message of an IPC stream: continuation, length, flatbuffer. */
function schemaMessageLength (ipc: Uint8Array): number {
  return 8 + new DataView(ipc.buffer, ipc.byteOffset + 4, 4).getInt32(0, true)
}

/**
 * One Arrow IPC stream written as its batches arrive: the schema with the first batch, then each
 * batch's messages (dictionaries included), then end-of-stream. Pulled by the response stream, so
 * nothing is produced faster than the client reads. Every batch is written with the first batch's
 * schema; with no batch at all the answer is `fallback` and no rows.
 */
export async function * arrowStreamOut (batches: AsyncIterable<RecordBatch>, fallback: Schema): AsyncGenerator<Uint8Array> {
  let schema: Schema | null = null
  for await (const batch of batches) {
    // A decoded row group can hold a million rows: written in slices, each message stays small
    // and the event loop gets a turn between them.
    for (let at = 0; at < batch.numRows; at += SLICE_ROWS) {
      const b = at === 0 && batch.numRows <= SLICE_ROWS ? batch : batch.slice(at, at + SLICE_ROWS)
      const first = schema === null
      schema ??= b.schema
      const ipc = toIpcStream([b], schema)
      yield ipc.subarray(first ? 0 : schemaMessageLength(ipc), ipc.byteLength - EOS.byteLength)
    }
  }
  yield schema === null ? toIpcStream([], fallback) : EOS
}
