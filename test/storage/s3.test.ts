import t from 'tap'
import { PutObjectCommand, CreateMultipartUploadCommand } from '@aws-sdk/client-s3'
import { startS3rver } from '../helpers/s3rver.ts'
import { createS3Storage, abortStaleUploads, normalizePrefix } from '../../src/storage/s3.ts'
import { ulid } from 'ulidx'
import type { StorageLog } from '../../src/storage/log.ts'
import { storageContract, collect, chunks, sha } from './contract.ts'

const s3 = await startS3rver(t)
let n = 0
const make = (prefix = `run${++n}/`) => createS3Storage({ bucket: s3.bucket, prefix, endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', staleUploadMs: 0 })
process.env.AWS_ACCESS_KEY_ID = 'S3RVER'
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER'

storageContract(t, async () => make())

t.test('prefix is applied to every key and normalised', async (t) => {
  t.equal(normalizePrefix('/a/b/'), 'a/b/')
  t.equal(normalizePrefix(''), '')
  const s = make('pfx/')
  t.equal(s.location, `s3://${s3.bucket}/pfx/`)
  await s.put('t/year=2026/x.parquet', new Uint8Array([7]))
  t.ok(await s.createExclusive('_catalog/t.json', new Uint8Array([8])))
  t.same(await s3.listKeys('pfx/'), ['pfx/_catalog/t.json', 'pfx/t/year=2026/x.parquet'], 'claims are removed after the create')
  t.same(await s3.getObject('pfx/t/year=2026/x.parquet'), new Uint8Array([7]))
})

t.test('a >8 MiB putStream goes up as multipart and reads back byte-identical', async (t) => {
  const s = make()
  const parts: Uint8Array[] = []
  const total = 20 * 1024 * 1024 + 12345
  const tee = (async function * () { for await (const c of chunks(total, 1024 * 1024)) { parts.push(c); yield c } })()
  t.same(await s.putStream('big/multi.bin', tee), { bytes: total })
  const back = await s.get('big/multi.bin')
  t.equal(back!.byteLength, total)
  t.equal(sha(back!), sha(Buffer.concat(parts)))
  // s3rver tags multipart objects with an ETag of the form "<md5>-<parts>"
  const listed = await collect(s.list('big/'))
  t.same(listed.map((o) => [o.key, o.bytes]), [['big/multi.bin', total]])

  const big = Buffer.concat(parts)
  await s.put('big/put.bin', big)
  t.equal(sha((await s.get('big/put.bin'))!), sha(big), 'put of a >8 MiB buffer too')
  await t.rejects(s.putStream('big/fail.bin', chunks(total, 1024 * 1024, 17 * 1024 * 1024)), /producer failed/)
  t.same((await collect(s.list('big/'))).map((o) => o.key), ['big/multi.bin', 'big/put.bin'], 'failed multipart left no object')
})

t.test('list pages through more than 1000 objects', async (t) => {
  const s = make()
  const keys = Array.from({ length: 1003 }, (_, i) => `p/k${String(i).padStart(4, '0')}`)
  for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => s.put(k, new Uint8Array([1]))))
  t.same((await collect(s.list('p/'))).map((o) => o.key), keys)
})

t.test('createExclusive: existing object loses, a crashed creator\'s stale claim does not block', async (t) => {
  const s = make('ex/')
  await s.put('_catalog/a.json', new Uint8Array([1]))
  t.equal(await s.createExclusive('_catalog/a.json', new Uint8Array([2])), false)
  t.same(await s.get('_catalog/a.json'), new Uint8Array([1]))
  const staleId = ulid(Date.now() - 60_000)
  await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `ex/_catalog/b.json.claims/${staleId}`, Body: new Uint8Array(0) }))
  t.ok(await s.createExclusive('_catalog/b.json', new Uint8Array([3])))
  t.same(await s.get('_catalog/b.json'), new Uint8Array([3]))
  t.same((await collect(s.list('_catalog/'))).map((o) => o.key), ['_catalog/a.json', '_catalog/b.json'], 'claims never listed')
})

t.test('two storages (two gateway instances) racing one key: one winner', async (t) => {
  const a = make('two/')
  const b = make('two/')
  const res = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).createExclusive('_catalog/x.json', new Uint8Array([i]))))
  t.equal(res.filter(Boolean).length, 1)
  t.same(await a.get('_catalog/x.json'), new Uint8Array([res.indexOf(true)]))
})

t.test('stale multipart cleanup tolerates s3rver not implementing it', async (t) => {
  const warnings: unknown[] = []
  const log: StorageLog = { debug () {}, info () {}, error () {}, warn (o) { warnings.push(o) } }
  await s3.client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'mp/leftover' })).catch(() => {})
  const aborted = await abortStaleUploads(s3.client, s3.bucket, '', 0, log)
  t.equal(aborted, 0)
  t.equal(warnings.length, 1, 'logged once instead of failing')
})

t.test('check fails for a missing bucket or an unreachable endpoint', async (t) => {
  await make().check()
  const noBucket = createS3Storage({ bucket: 'nope', endpoint: s3.endpoint, forcePathStyle: true, staleUploadMs: 0 })
  await t.rejects(noBucket.check())
  const down = createS3Storage({ bucket: s3.bucket, endpoint: 'http://127.0.0.1:1', forcePathStyle: true, staleUploadMs: 0 })
  await t.rejects(down.check())
  await noBucket.close()
  await down.close()
})
