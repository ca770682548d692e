import { Table, writeParquet, WriterPropertiesBuilder, Compression } from 'parquet-wasm'
import { Piscina } from 'piscina'
import type { ParquetCompression } from './types.ts'

export interface EncodeTask {
  ipc: Uint8Array
  compression: ParquetCompression
  maxRowGroupSize: number
}

const CODECS: Record<ParquetCompression, Compression> = {
  zstd: Compression.ZSTD,
  snappy: Compression.SNAPPY,
  // LZ4_RAW: the framed LZ4 codec is deprecated in Parquet and read inconsistently across engines.
  lz4: Compression.LZ4_RAW,
  none: Compression.UNCOMPRESSED
}

/**
 * Runs in a worker thread: parquet-wasm encodes synchronously and would block the event loop.
 * writeParquet consumes both the table and the properties (wasm ownership), so both are per call.
 */
export default function encode (task: EncodeTask) {
  const table = Table.fromIPCStream(task.ipc)
  const props = new WriterPropertiesBuilder()
    .setCompression(CODECS[task.compression])
    .setDictionaryEnabled(true)
    .setMaxRowGroupSize(task.maxRowGroupSize)
    .setCreatedBy('quiver')
    .build()
  const bytes = writeParquet(table, props)
  return Piscina.move(bytes)
}
