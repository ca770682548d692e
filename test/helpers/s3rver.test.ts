import t from 'tap'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { startS3rver } from './s3rver.ts'
import { waitFor } from './wait.ts'

t.test('s3rver helper: put, page through a listing, get back', async (t) => {
  const s3 = await startS3rver(t)
  const keys = Array.from({ length: 1005 }, (_, i) => `p/${String(i).padStart(4, '0')}`)
  for (let i = 0; i < keys.length; i += 50) {
    await Promise.all(keys.slice(i, i + 50).map((Key) => s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: Key }))))
  }
  t.same(await s3.listKeys('p/'), keys)
  t.equal(Buffer.from(await s3.getObject('p/0042')).toString(), 'p/0042')
})

/*
 * S3 shows an object whole or not at all; s3rver 3.7 listed and served the object file while it
 * was being written, and kept a torn one forever when the client died mid-body (the crash test's
 * "object read as empty"). s3rver-main.cjs writes a temp file and renames it into place.
 */
t.test('s3rver helper: an object being written is not listed, and a PUT cut mid-body leaves nothing', async (t) => {
  const s3 = await startS3rver(t)
  const files = (): string[] => readdirSync(s3.directory, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.includes('torn') && statSync(join(s3.directory, f)).isFile())
  const body = new PassThrough()
  body.write(Buffer.alloc(100 * 1024, 1))
  const abort = new AbortController()
  const put = s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'torn/a', Body: body, ContentLength: 1024 * 1024 }), { abortSignal: abort.signal })
  put.catch(() => {})
  await waitFor(() => files().some((f) => statSync(join(s3.directory, f)).size > 0), 'the first bytes on s3rver\'s disk')
  t.same(await s3.listKeys('torn/'), [], 'not listed while its body is still arriving')
  abort.abort()
  await t.rejects(put)
  await waitFor(() => files().length === 0, 'the cut PUT to leave no file')
  t.same(await s3.listKeys('torn/'), [], 'nothing listed after the cut')

  await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'torn/b', Body: Buffer.alloc(1024 * 1024, 2) }))
  t.same(await s3.listKeys('torn/'), ['torn/b'])
  t.same(Buffer.from(await s3.getObject('torn/b')), Buffer.alloc(1024 * 1024, 2), 'a whole PUT reads back whole')
})
