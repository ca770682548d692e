import { readThrift } from './thrift-compact.ts'

/**
 * `num_rows` of the FileMetaData in the last bytes of a Parquet file (footer, its length, the
 * magic): the streaming writer skips batches it fails to write without saying so, so the encoder
 * checks the row count of what it produced before anything is committed. The footer is read by
 * hyparquet's Thrift reader (the one the assembler uses).
 */
export function parquetTailRows (tail: Uint8Array): number {
  const n = tail.byteLength
  if (n < 12 || Buffer.from(tail.subarray(n - 4)).toString('latin1') !== 'PAR1') throw new RangeError('not a Parquet file tail')
  const len = new DataView(tail.buffer, tail.byteOffset + n - 8, 4).getUint32(0, true)
  if (len + 8 > n) throw new RangeError('parquet footer: tail too short')
  const rows = readThrift(tail.subarray(n - 8 - len, n - 8)).field_3
  if (typeof rows !== 'bigint') throw new RangeError('parquet footer: no num_rows')
  return Number(rows)
}
