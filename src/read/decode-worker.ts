import { readParquet } from 'parquet-wasm'
import { Piscina } from 'piscina'

export interface DecodeTask {
  /** The whole Parquet object (a shared buffer when several row groups are read from it). */
  bytes: Uint8Array
  rowGroup: number
}

/**
 * Runs on an encoder thread (parquet-wasm is loaded there already): one row group of a Parquet
 * object decoded to an Arrow IPC stream. Decoding is synchronous wasm work that would stall the
 * event loop for as long as the group takes; one group at a time also bounds the decoded memory.
 */
export function decodeRowGroup (task: DecodeTask): Uint8Array {
  const table = readParquet(task.bytes, { rowGroups: [task.rowGroup] })
  return Piscina.move(table.intoIPCStream()) as unknown as Uint8Array
}
