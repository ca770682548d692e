import type { RecordBatch, Schema } from 'apache-arrow'

export interface SourceOptions {
  /** Rows per produced batch (the last one may be shorter). */
  batchRows: number
  /** Target schema (the topic's) for text formats; inferred from the first batch when absent. */
  schema?: Schema | null
  /** Updated as the file is consumed, for progress and ETA. */
  position?: { bytes: number }
  /** CSV field delimiter (default ','). */
  delimiter?: string
}

export type SourceReader = (path: string, opts: SourceOptions) => AsyncGenerator<RecordBatch>
