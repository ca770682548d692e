import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { S3Client, ListObjectsV2Command, GetObjectCommand } from '@aws-sdk/client-s3'

const MAIN = fileURLToPath(new URL('./s3rver-main.cjs', import.meta.url))

export interface S3rverHandle {
  endpoint: string
  port: number
  bucket: string
  directory: string
  /** Variables that point a gateway at this server. */
  env: Record<string, string>
  /** An S3 client for assertions. */
  client: S3Client
  proc: ChildProcess
  /** Every key under a prefix (pages through ListObjectsV2). */
  listKeys (prefix?: string): Promise<string[]>
  getObject (key: string): Promise<Uint8Array>
  stop (): Promise<void>
}

/** Starts a real s3rver on 127.0.0.1 with a random port and one bucket; stopped at teardown. */
export async function startS3rver (t: { teardown: (fn: () => unknown) => void }, opts: { bucket?: string } = {}): Promise<S3rverHandle> {
  const bucket = opts.bucket ?? 'quiver-test'
  const directory = mkdtempSync(join(tmpdir(), 's3rver-'))
  const proc = spawn(process.execPath, [MAIN, directory, bucket], {
    env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const port = await new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! })
    rl.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port))
    proc.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)))
  })
  const endpoint = `http://127.0.0.1:${port}`
  const env = {
    S3_BUCKET: bucket,
    S3_ENDPOINT: endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER'
  }
  // The gateway's S3 client takes credentials from the SDK's default chain (the environment), as in
  // production; in-process apps built by tests read them from here.
  process.env.AWS_ACCESS_KEY_ID ??= 'S3RVER'
  process.env.AWS_SECRET_ACCESS_KEY ??= 'S3RVER'
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED'
  })
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    client.destroy()
    if (proc.exitCode === null) {
      const exited = new Promise((resolve) => proc.once('exit', resolve))
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(timer)
    }
    rmSync(directory, { recursive: true, force: true })
  }
  t.teardown(stop)
  return {
    endpoint,
    port,
    bucket,
    directory,
    env,
    client,
    proc,
    stop,
    async listKeys (prefix = '') {
      const keys: string[] = []
      let token: string | undefined
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }))
        for (const o of page.Contents ?? []) keys.push(o.Key!)
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token)
      return keys.sort()
    },
    async getObject (key) {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      return await res.Body!.transformToByteArray()
    }
  }
}
