import { openAsBlob, statSync } from 'node:fs'
import { tableFromIPC, type RecordBatch } from 'apache-arrow'
import { ParquetFile } from 'parquet-wasm'
import type { SourceOptions } from './types.ts'

/**
 * Parquet → Arrow batches. parquet-wasm reads through a file-backed Blob, fetching only the byte
 * ranges of the row group being decoded, so memory is about one row group whatever the file size.
 */
export async function * readParquet (path: string, opts: SourceOptions): AsyncGenerator<RecordBatch> {
  const size = statSync(path).size
  const file = await ParquetFile.fromFile(await openAsBlob(path))
  try {
    const meta = file.metadata()
    const total = Number(meta.fileMetadata().numRows()) || 1
    let rows = 0
    const stream = await file.stream({ batchSize: opts.batchRows })
    for await (const wasmBatch of stream as unknown as AsyncIterable<{ intoIPCStream (): Uint8Array }>) {
      const table = tableFromIPC(wasmBatch.intoIPCStream())
      for (const batch of table.batches) {
        rows += batch.numRows
        if (opts.position) opts.position.bytes = Math.round(size * Math.min(1, rows / total))
        yield batch
      }
    }
  } finally {
    file.free()
  }
}
