export type ParquetCompression = 'zstd' | 'snappy' | 'lz4' | 'none'

/** Encodes Arrow IPC stream bytes (one schema, any number of batches) into one Parquet file, off the event loop. */
export interface ParquetEncoder {
  /**
   * `dictionaryColumns`: the columns to dictionary-encode (see src/parquet/dictionary.ts); others are plain.
   * `metadata`: footer key-value metadata (src/parquet/quiver-metadata.ts).
   * `background`: starts only on a thread left over by foreground encodes (flushes), or as the
   * only background encode when there is none: flushes go first, staged requests' row groups
   * (src/pipeline/row-group-stream.ts) never starve.
   */
  encode (ipc: Uint8Array, opts?: { dictionaryColumns?: readonly string[], metadata?: Record<string, string>, background?: boolean }): Promise<Uint8Array>
  readonly threads: number
  /** Starts the threads ahead of the first encode (e.g. once the server listens). */
  warm?: () => Promise<void>
  /**
   * Runs export `name` of worker module `filename` on one of the encoder's threads (whose
   * parquet-wasm instance is already loaded), e.g. the read side's decoder (src/read/pool-decoder.ts).
   */
  runTask?: (filename: string, name: string, task: unknown, transferList: Transferable[]) => Promise<unknown>
  close (): Promise<void>
}
