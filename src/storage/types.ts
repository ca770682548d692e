export interface ObjectInfo {
  key: string
  bytes: number
  lastModified: Date
}

/**
 * Where Parquet objects and the topic catalog live. Keys are relative ('{topic}/year=…/x.parquet',
 * '_catalog/{topic}.json'); the sink applies S3_PREFIX or DATA_DIR itself.
 * Every write is atomic: an object is visible whole or not at all.
 */
export interface Storage {
  readonly kind: 's3' | 'fs'
  /** Human-readable location for logs and the startup banner, e.g. s3://bucket/prefix or /abs/data */
  readonly location: string
  put (key: string, body: Uint8Array): Promise<void>
  /** Streams a body of unknown length (multipart upload on S3), committed only when the iterable ends; aborted if it throws. */
  putStream (key: string, body: AsyncIterable<Uint8Array>): Promise<{ bytes: number }>
  /**
   * Most bytes one putStream holds in memory besides the chunk it is given (S3: the parts being
   * uploaded and the one being filled); absent = a chunk at a time. Staged requests reserve it.
   */
  readonly streamBufferBytes?: number
  /** Creates the object only if no object has that key; false when it already exists (also across instances). */
  createExclusive (key: string, body: Uint8Array): Promise<boolean>
  get (key: string): Promise<Uint8Array | null>
  /** Bytes [start, end) of an object (a ranged GET on S3), null when it does not exist. */
  getRange (key: string, start: number, end: number): Promise<Uint8Array | null>
  list (prefix: string): AsyncIterable<ObjectInfo>
  delete (key: string): Promise<void>
  /** Throws when storage is not usable (used by /readyz). */
  check (): Promise<void>
  close (): Promise<void>
}
