import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ParquetEncoder } from '../parquet/types.ts'
import type { RowGroupDecoder } from './reader.ts'
import type { DecodeTask } from './decode-worker.ts'
import { ownsBuffer } from '../transfer.ts'

// Same extension as this file: decode-worker.ts under tsx, decode-worker.js from dist.
const WORKER = new URL('./decode-worker' + extname(fileURLToPath(import.meta.url)), import.meta.url).href

/**
 * Row groups decoded on the encoder pool's threads (parquet-wasm is loaded there), so a large read
 * never stalls the event loop. A buffer the caller hands over whole is moved, not copied.
 */
export function poolDecoder (encoder: ParquetEncoder): RowGroupDecoder | undefined {
  const run = encoder.runTask?.bind(encoder)
  if (!run) return undefined
  return async (bytes, rowGroup) => {
    const task: DecodeTask = { bytes, rowGroup }
    return await run(WORKER, 'decodeRowGroup', task, ownsBuffer(bytes) ? [bytes.buffer as ArrayBuffer] : []) as Uint8Array
  }
}
