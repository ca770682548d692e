import { DeleteObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { decodeTime, newObjectId } from '../keys.ts'

/** Folder of create claims next to an object: `{key}.claims/{id}`; never listed as data. */
export const CLAIMS_SUFFIX = '.claims/'
export const isClaimKey = (key: string) => key.includes(CLAIMS_SUFFIX)

export function status (err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode
}

export function isNotFound (err: unknown): boolean {
  const name = (err as Error)?.name
  return name === 'NotFound' || name === 'NoSuchKey' || status(err) === 404
}

export interface ClaimOptions {
  client: S3Client
  bucket: string
  /** Waiting this long and listing again makes a claim safe against clock skew up to it. */
  settleMs: number
  /** Claims older than this belong to a creator that crashed; they no longer block. */
  staleMs: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Exclusive create that also holds on S3 emulators that ignore `If-None-Match: *` (s3rver).
 * Every creator writes a uniquely named, time-sortable claim and lists the claims; the earliest
 * live claim wins, after a settle delay and a second listing (a creator whose clock runs behind
 * could otherwise slip in an earlier claim after the first listing). The winner writes the object
 * with `If-None-Match: *` (the real guard on S3 and MinIO), then drops its claim; losers drop theirs.
 * A late creator that no longer sees the winner's claim finds the object by HEAD instead.
 */
export async function createWithClaim (o: ClaimOptions, fullKey: string, body: Uint8Array): Promise<boolean> {
  const { client, bucket } = o
  const exists = async () => {
    try {
      await client.send(new HeadObjectCommand({ Bucket: bucket, Key: fullKey }))
      return true
    } catch (err) {
      if (isNotFound(err)) return false
      throw err
    }
  }
  if (await exists()) return false

  const claimPrefix = fullKey + CLAIMS_SUFFIX
  const mine = claimPrefix + newObjectId()
  const earliest = async (): Promise<string | undefined> => {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: claimPrefix }))
    const staleBefore = Date.now() - o.staleMs
    return (page.Contents ?? [])
      .map((c) => c.Key!)
      .filter((k) => k === mine || decodeTime(k.slice(claimPrefix.length)) >= staleBefore)
      .sort()[0]
  }
  const drop = () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: mine })).catch(() => {})

  await client.send(new PutObjectCommand({ Bucket: bucket, Key: mine, Body: new Uint8Array(0) }))
  try {
    if (await earliest() !== mine) return false
    await sleep(o.settleMs)
    if (await earliest() !== mine || await exists()) return false
    try {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: fullKey, Body: body, IfNoneMatch: '*' }))
    } catch (err) {
      // 412: the object exists; 409: a concurrent conditional write to the same key is in flight.
      if (status(err) === 412 || status(err) === 409) return false
      throw err
    }
    return true
  } finally {
    await drop()
  }
}
