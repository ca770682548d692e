import { Readable } from 'node:stream'
import {
  S3Client, GetObjectCommand, DeleteObjectCommand, HeadBucketCommand, ListObjectsV2Command,
  ListMultipartUploadsCommand, AbortMultipartUploadCommand
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import type { Storage, ObjectInfo } from './types.ts'
import { assertKey, silentLog, type StorageLog } from './log.ts'
import { createWithClaim, isClaimKey, isNotFound } from './s3-claims.ts'

export const PART_SIZE = 8 * 1024 * 1024
export const QUEUE_SIZE = 4
/**
 * A streamed object (a staged request) goes up in S3's smallest parts, two at once (its producer
 * is the encoder threads, which two keep up with): lib-storage copies a stream into parts, so one
 * upload holds those uploading, the one being filled and its copy (Buffer.concat): reserved in
 * MAX_BUFFERED_BYTES with the request (src/ingest/staging.ts). 10,000 parts: objects up to 48 GiB.
 */
export const STREAM_PART_SIZE = 5 * 1024 * 1024
export const STREAM_QUEUE_SIZE = 2
export const STREAM_BUFFER_BYTES = STREAM_PART_SIZE * (STREAM_QUEUE_SIZE + 2)

export interface S3StorageOptions {
  bucket: string
  prefix?: string
  region?: string
  endpoint?: string
  forcePathStyle?: boolean
  log?: StorageLog
  /** Multipart uploads under the prefix older than this are leftovers of a crash: aborted at start. */
  staleUploadMs?: number
  claimSettleMs?: number
  claimStaleMs?: number
  /** Socket idle timeout per request, so a stalled connection fails (and is retried) instead of hanging. */
  requestTimeoutMs?: number
}

/** S3_PREFIX ends with '/' (config/load.ts refuses it otherwise) or is '' (the bucket root); a leading '/' is dropped (S3 keys do not start with one). */
export function normalizePrefix (prefix = ''): string {
  return prefix.replace(/^\/+/, '')
}

export function createS3Client (o: S3StorageOptions): S3Client {
  return new S3Client({
    region: o.region || 'us-east-1',
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    forcePathStyle: o.forcePathStyle ?? false,
    // Retries belong to the layer around the sink (src/storage/retry.ts), not to each request.
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 5000, requestTimeout: o.requestTimeoutMs ?? 30_000, throwOnRequestTimeout: true },
    // s3rver corrupts streamed PutObject bodies when the SDK adds flexible checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED'
  })
}

/**
 * Aborts multipart uploads a crashed instance left behind (they cost storage and never appear as
 * objects). s3rver implements neither listing nor aborting them: that is logged, not fatal.
 */
export async function abortStaleUploads (client: S3Client, bucket: string, prefix: string, olderThanMs: number, log: StorageLog): Promise<number> {
  let aborted = 0
  let keyMarker: string | undefined
  let uploadIdMarker: string | undefined
  try {
    do {
      const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }))
      for (const u of page.Uploads ?? []) {
        if (u.Initiated && u.Initiated.getTime() < Date.now() - olderThanMs) {
          await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }))
          aborted++
        }
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined
    } while (keyMarker)
  } catch (err) {
    log.warn({ err: { name: (err as Error).name, message: (err as Error).message }, aborted }, 'could not clean up stale multipart uploads')
    return aborted
  }
  if (aborted > 0) log.info({ aborted }, 'aborted stale multipart uploads')
  return aborted
}

export function createS3Storage (o: S3StorageOptions, client = createS3Client(o)): Storage {
  const { bucket } = o
  const prefix = normalizePrefix(o.prefix)
  const log = o.log ?? silentLog
  const full = (key: string) => { assertKey(key); return prefix + key }
  const claims = { client, bucket, settleMs: o.claimSettleMs ?? 25, staleMs: o.claimStaleMs ?? 30_000 }

  async function upload (key: string, body: Uint8Array | Readable): Promise<void> {
    // A buffer's parts are views of it; a stream's are copies, as many as are uploading at once.
    const stream = !(body instanceof Uint8Array)
    const up = new Upload({
      client,
      params: { Bucket: bucket, Key: full(key), Body: body, ContentType: key.endsWith('.json') ? 'application/json' : 'application/octet-stream' },
      partSize: stream ? STREAM_PART_SIZE : PART_SIZE,
      queueSize: stream ? STREAM_QUEUE_SIZE : QUEUE_SIZE,
      // Failed multipart uploads are aborted, so nothing half-written ever becomes visible.
      leavePartsOnError: false
    })
    await up.done()
  }

  // Not awaited: S3 being down at startup must not keep the gateway from starting (/readyz says 503).
  if (o.staleUploadMs !== 0) abortStaleUploads(client, bucket, prefix, o.staleUploadMs ?? 5 * 60_000, log).catch(() => {})

  return {
    kind: 's3',
    location: `s3://${bucket}/${prefix}`,
    streamBufferBytes: STREAM_BUFFER_BYTES,
    async put (key, body) {
      await upload(key, body)
    },
    async putStream (key, body) {
      let bytes = 0
      let producerError: unknown
      const counted = (async function * () {
        try {
          for await (const chunk of body) {
            bytes += chunk.byteLength
            yield chunk
          }
        } catch (err) {
          producerError = err
          throw err
        }
      })()
      try {
        await upload(key, Readable.from(counted, { objectMode: false }))
      } catch (err) {
        // Upload reports its abort's failure (s3rver has no AbortMultipartUpload) over the cause.
        throw producerError ?? err
      }
      return { bytes }
    },
    async createExclusive (key, body) {
      return await createWithClaim(claims, full(key), body)
    },
    async get (key) {
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full(key) }))
        return await res.Body!.transformToByteArray()
      } catch (err) {
        if (isNotFound(err)) return null
        throw err
      }
    },
    async getRange (key, start, end) {
      if (end <= start) return new Uint8Array(0)
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full(key), Range: `bytes=${start}-${end - 1}` }))
        return await res.Body!.transformToByteArray()
      } catch (err) {
        if (isNotFound(err)) return null
        throw err
      }
    },
    list (p) {
      return (async function * (): AsyncGenerator<ObjectInfo> {
        let token: string | undefined
        do {
          const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix + p, ContinuationToken: token }))
          for (const c of page.Contents ?? []) {
            const key = c.Key!.slice(prefix.length)
            if (isClaimKey(key)) continue
            yield { key, bytes: c.Size ?? 0, lastModified: c.LastModified ?? new Date(0) }
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined
        } while (token)
      })()
    },
    async delete (key) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: full(key) }))
    },
    async check () {
      await client.send(new HeadBucketCommand({ Bucket: bucket }))
    },
    async close () {
      client.destroy()
    }
  }
}
