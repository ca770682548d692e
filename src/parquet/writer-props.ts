import { Compression, WriterPropertiesBuilder, type WriterProperties } from 'parquet-wasm'
import type { ParquetCompression } from './types.ts'

const CODECS: Record<ParquetCompression, Compression> = {
  zstd: Compression.ZSTD,
  snappy: Compression.SNAPPY,
  // LZ4_RAW: the framed LZ4 codec is deprecated in Parquet and read inconsistently across engines.
  lz4: Compression.LZ4_RAW,
  none: Compression.UNCOMPRESSED
}

/**
 * The writer settings every Quiver Parquet object is written with (flushes and large requests).
 * parquet-wasm consumes the properties when it writes (wasm ownership): build them per object.
 */
export function writerProperties (compression: ParquetCompression, maxRowGroupSize: number): WriterProperties {
  return new WriterPropertiesBuilder()
    .setCompression(CODECS[compression])
    .setDictionaryEnabled(true)
    .setMaxRowGroupSize(maxRowGroupSize)
    .setCreatedBy('quiver')
    .build()
}
