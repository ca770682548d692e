import { Table, writeParquet } from 'parquet-wasm'
import { Piscina } from 'piscina'
import type { ParquetCompression } from './types.ts'
import { writerProperties } from './writer-props.ts'

export interface EncodeTask {
  ipc: Uint8Array
  compression: ParquetCompression
  maxRowGroupSize: number
  dictionaryColumns?: readonly string[]
  metadata?: Record<string, string>
}

/**
 * Runs in a worker thread: parquet-wasm encodes synchronously and would block the event loop.
 * writeParquet consumes both the table and the properties (wasm ownership), so both are per call.
 */
/** Loads this module (and parquet-wasm) in a thread before the first real encode needs it. */
export function warm (): number {
  return 0
}

export default function encode (task: EncodeTask) {
  const table = Table.fromIPCStream(task.ipc)
  const bytes = writeParquet(table, writerProperties(task.compression, task.maxRowGroupSize, task.dictionaryColumns, task.metadata))
  return Piscina.move(bytes)
}
