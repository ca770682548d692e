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
 *
 * Dictionary encoding only for the columns named in `dictionaryColumns` (the top-level string and
 * binary columns, see dictionaryColumnsOf): numbers, timestamps and booleans in event data are
 * mostly distinct or already compress well, and trying a dictionary on them (the writer's default)
 * cost a third of the encode time for larger files in our measurements (test/bench/README.md).
 */
export function writerProperties (compression: ParquetCompression, maxRowGroupSize: number, dictionaryColumns: readonly string[] = [], metadata: Record<string, string> = {}): WriterProperties {
  let b = new WriterPropertiesBuilder()
    .setCompression(CODECS[compression])
    .setDictionaryEnabled(false)
    .setMaxRowGroupSize(maxRowGroupSize)
    .setCreatedBy('quiver')
    // Footer key-value metadata (src/parquet/quiver-metadata.ts): what lets readers tell our objects from others'.
    .setKeyValueMetadata(new Map(Object.entries(metadata)))
  for (const name of dictionaryColumns) b = b.setColumnDictionaryEnabled(name, true)
  return b.build()
}
