import { open, stat } from 'node:fs/promises'
import { RecordBatchReader, type RecordBatch } from 'apache-arrow'
import type { SourceOptions } from './types.ts'

/**
 * Arrow IPC file or stream → its batches, sliced to at most `batchRows` rows. The reader works on
 * a file handle, so the file format's footer is read with random access and the data incrementally.
 */
export async function * readArrow (path: string, opts: SourceOptions): AsyncGenerator<RecordBatch> {
  const size = (await stat(path)).size
  const handle = await open(path, 'r')
  let bytes = 0
  try {
    const reader = await RecordBatchReader.from(handle)
    await reader.open()
    for await (const batch of reader) {
      bytes += batchBytes(batch)
      if (opts.position) opts.position.bytes = Math.min(size, bytes)
      for (let at = 0; at < batch.numRows; at += opts.batchRows) {
        yield at === 0 && batch.numRows <= opts.batchRows ? batch : batch.slice(at, at + opts.batchRows)
      }
    }
  } finally {
    await handle.close()
  }
}

function batchBytes (batch: RecordBatch): number {
  let n = 0
  for (const child of batch.data.children) n += child.byteLength
  return n
}
