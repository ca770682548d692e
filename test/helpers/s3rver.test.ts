import t from 'tap'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { startS3rver } from './s3rver.ts'

t.test('s3rver helper: put, page through a listing, get back', async (t) => {
  const s3 = await startS3rver(t)
  const keys = Array.from({ length: 1005 }, (_, i) => `p/${String(i).padStart(4, '0')}`)
  for (let i = 0; i < keys.length; i += 50) {
    await Promise.all(keys.slice(i, i + 50).map((Key) => s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: Key }))))
  }
  t.same(await s3.listKeys('p/'), keys)
  t.equal(Buffer.from(await s3.getObject('p/0042')).toString(), 'p/0042')
})
