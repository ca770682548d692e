export type ParquetCompression = 'zstd' | 'snappy' | 'lz4' | 'none'

/** Encodes Arrow IPC stream bytes (one schema, any number of batches) into one Parquet file, off the event loop. */
export interface ParquetEncoder {
  encode (ipc: Uint8Array): Promise<Uint8Array>
  readonly threads: number
  close (): Promise<void>
}
