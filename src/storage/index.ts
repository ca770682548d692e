import type { Config } from '../../config/schema.ts'
import type { Storage } from './types.ts'
import { createFsStorage } from './fs.ts'
import { withRetry, type RetryingStorage, type RetryOptions } from './retry.ts'
import type { StorageLog } from './log.ts'

export type { RetryingStorage } from './retry.ts'
export type { StorageLog } from './log.ts'

/** S3 when S3_BUCKET is set, else the local directory DATA_DIR; always behind the retry layer. */
export async function createStorage (config: Config, log: StorageLog, retry: Omit<RetryOptions, 'log'> = {}): Promise<RetryingStorage> {
  let inner: Storage
  if (config.S3_BUCKET) {
    // The AWS SDK is loaded only when S3 is configured (about half a second of startup otherwise).
    const { createS3Storage } = await import('./s3.ts')
    inner = createS3Storage({
      bucket: config.S3_BUCKET,
      prefix: config.S3_PREFIX,
      region: config.AWS_REGION,
      endpoint: config.S3_ENDPOINT || undefined,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      log
    })
  } else {
    inner = await createFsStorage({ dir: config.DATA_DIR, log })
  }
  return withRetry(inner, { ...retry, log })
}
