import type { Storage } from '../storage/types.ts'
import { TOPIC_CREATED_AT, TOPIC_KEY } from '../parquet/quiver-metadata.ts'

/** What the footer of one listed object says, read with ranged GETs (never the whole object). */
export type FooterInfo =
  | { kind: 'ours', rows: number, topicCreatedAt?: string }
  | { kind: 'foreign', reason: string }
  | { kind: 'corrupt', reason: string }

// Quiver's footers are a few KiB (schema + one entry per row group and column): one small tail
// read covers them; hyparquet asks for the rest with a second range when a footer is larger.
const TAIL_BYTES = 64 * 1024

export class ObjectGoneError extends Error {}

/**
 * Reads the footer of `key` (`bytes` long, from the listing). An object that is not Parquet, is
 * cut short or has an unreadable footer is `corrupt`; a readable one whose footer does not name
 * `topic` (another system's file under the same prefix) is `foreign`. Storage errors are thrown.
 */
export async function readFooter (storage: Storage, key: string, bytes: number, topic: string): Promise<FooterInfo> {
  if (bytes < 12) return { kind: 'corrupt', reason: `${bytes} bytes, too short for Parquet` }
  const file = {
    byteLength: bytes,
    async slice (start: number, end = bytes): Promise<ArrayBuffer> {
      const got = await storage.getRange(key, start, end)
      if (got === null) throw new ObjectGoneError(key)
      return got.buffer.slice(got.byteOffset, got.byteOffset + got.byteLength) as ArrayBuffer
    }
  }
  // hyparquet loads with the first footer read: the server's start does not need it.
  const { parquetMetadataAsync } = await import('hyparquet')
  let meta
  try {
    meta = await parquetMetadataAsync(file, { initialFetchSize: TAIL_BYTES })
  } catch (err) {
    if (err instanceof ObjectGoneError) throw err
    // hyparquet throws plain Errors for bad magic, lengths and Thrift; storage errors come from
    // getRange with their own names (S3ServiceException, NodeJS errno errors).
    if ((err as NodeJS.ErrnoException).code !== undefined || (err as { $metadata?: unknown }).$metadata !== undefined) throw err
    return { kind: 'corrupt', reason: (err as Error).message }
  }
  const owner = meta.key_value_metadata?.find((kv) => kv.key === TOPIC_KEY)?.value
  if (owner !== topic) return { kind: 'foreign', reason: owner === undefined ? 'no quiver.topic in its footer' : `footer names topic "${owner}"` }
  const topicCreatedAt = meta.key_value_metadata?.find((kv) => kv.key === TOPIC_CREATED_AT)?.value
  return topicCreatedAt === undefined ? { kind: 'ours', rows: Number(meta.num_rows) } : { kind: 'ours', rows: Number(meta.num_rows), topicCreatedAt }
}
