import type { Schema } from 'apache-arrow'
import type { Storage } from '../storage/types.ts'
import type { CommittedFile, CommittedIndex } from '../read/committed.ts'
import { StorageUnavailableError } from '../errors.ts'
import { newObjectId, partitionedObjectKey } from '../keys.ts'
import { dictionaryColumnsOf } from '../parquet/dictionary.ts'
import { commitMetadata } from '../parquet/quiver-metadata.ts'
import type { PipelineHooks, PipelineLogger } from './flush.ts'
import { isQuiverError } from './guard.ts'

/**
 * The writer settings of every object a topic gets, whether a flush of buffered rows or a staged
 * large request wrote it: the same dictionary columns and the footer metadata the read side
 * checks (parquet/quiver-metadata.ts).
 */
export function encodeSettings (topic: string, schema: Schema, createdAt?: string): { dictionaryColumns: string[], metadata: Record<string, string> } {
  return { dictionaryColumns: dictionaryColumnsOf(schema), metadata: commitMetadata(topic, createdAt) }
}

export interface CommitOptions {
  /** Rows in the object; a function when they are known only once the body ended (staged streams). */
  rows: number | (() => number)
  /** performance.now() when the work on this object began (flush latency metric). */
  started: number
  /**
   * Runs with the object's key before the object can appear (Idempotency-Key claims name it): before
   * the write of a buffer, once a stream has ended but before storage completes it (a streamed
   * request's answer is known only at its end). A failure fails the commit.
   */
  before?: (key: string) => Promise<void>
  /** The topic's createdAt written in the object's footer (quiver-metadata.ts), when it was known. */
  topicCreatedAt?: string
}

export type Commit = (topic: string, dir: string, body: Uint8Array | AsyncIterable<Uint8Array>, o: CommitOptions) => Promise<CommittedFile>

/**
 * The stream's chunks, then `last` before the stream ends: a sink completes a streamed object (the
 * rename, the multipart completion) only after its body ended, so `last` runs before it can appear,
 * and a failure of `last` aborts it like any producer error.
 */
async function * endsWith (body: AsyncIterable<Uint8Array>, last: () => Promise<void>): AsyncGenerator<Uint8Array> {
  yield * body
  await last()
}

/**
 * The one way a Parquet object reaches storage: its key (one new id under the partition's
 * directories), one write (the sink retries with backoff itself; a stream is a
 * multipart upload aborted if the stream throws), storage failures as StorageUnavailableError
 * (503 for the waiting requests), then the object joins the committed index and the metrics.
 * Buffered flushes (flush.ts) and staged large requests (src/ingest/large-request.ts) both end here.
 */
export function createCommit (o: { storage: Storage, index: CommittedIndex, hooks: PipelineHooks, log: PipelineLogger }): Commit {
  const { storage, index, hooks, log } = o
  return async function commit (topic, dir, body, c) {
    const key = partitionedObjectKey(topic, dir, newObjectId())
    const uploadStart = performance.now()
    let bytes: number
    try {
      if (body instanceof Uint8Array) {
        await c.before?.(key)
        await storage.put(key, body)
        bytes = body.byteLength
      } else {
        bytes = (await storage.putStream(key, c.before === undefined ? body : endsWith(body, async () => await c.before!(key)))).bytes
      }
    } catch (err) {
      // A stream that threw a Quiver error was abandoned by its producer (the request was refused):
      // that request's failure, not storage's.
      if (!(body instanceof Uint8Array) && isQuiverError(err)) throw err
      const rows = typeof c.rows === 'number' ? c.rows : undefined
      log.error({ err, topic, key, rows }, 'writing a Parquet object failed')
      throw Object.assign(new StorageUnavailableError(), { cause: err })
    }
    const end = performance.now()
    const rows = typeof c.rows === 'number' ? c.rows : c.rows()
    hooks.uploaded?.((end - uploadStart) / 1000)
    hooks.flushed?.(topic, (end - c.started) / 1000, rows)
    const file: CommittedFile = { key, bytes, rows, createdAt: new Date().toISOString(), topicCreatedAt: c.topicCreatedAt }
    index.add(topic, file)
    log.info({ topic, key, rows, bytes, ms: Math.round(end - c.started) }, 'flushed')
    return file
  }
}
