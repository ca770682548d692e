import t, { type Test } from 'tap'
import { createCatalog } from '../src/catalog.ts'
import { createFsStorage } from '../src/storage/fs.ts'
import { createS3Storage } from '../src/storage/s3.ts'
import type { Storage } from '../src/storage/types.ts'
import type { TopicRecord } from '../src/schema/topic-schema.ts'
import { startS3rver } from './helpers/s3rver.ts'

const rec = (name: string, i = 0): TopicRecord => ({
  name,
  schema: { fields: [{ name: 'id', type: 'int64', nullable: false }, { name: `v${i}`, type: 'string', nullable: true }] },
  createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString()
})

/** A record as get/list show it: version 1, evolution from AUTO_EVOLVE_TOPICS (default additive). */
const shown = (r: TopicRecord): TopicRecord => ({ ...r, schemaVersion: 1, evolution: 'additive' })

t.test('create / get / list / delete on the local directory', async (t) => {
  const storage = await createFsStorage({ dir: t.testdir() })
  const c = createCatalog(storage)
  t.same(await c.create(rec('clicks')), rec('clicks'))
  await c.create(rec('a_topic', 1))
  await t.rejects(c.create(rec('clicks', 2)), { code: 'QUIVER_TOPIC_EXISTS', statusCode: 409, message: 'Topic "clicks" already exists' })
  await t.rejects(c.create(rec('Bad-Name')), { code: 'QUIVER_INVALID_TOPIC_NAME', statusCode: 400 })
  t.same(await c.get('clicks'), shown(rec('clicks')))
  t.equal(await c.get('nope'), null)
  t.equal(await c.get('../etc'), null)
  t.same(await c.list(), [shown(rec('a_topic', 1)), shown(rec('clicks'))])
  await storage.put('clicks/year=2026/month=01/day=01/hour=00/x.parquet', new Uint8Array([1]))
  t.equal(await c.delete('clicks'), true)
  t.equal(await c.delete('clicks'), false)
  t.equal(await c.get('clicks'), null)
  t.same(await c.list(), [shown(rec('a_topic', 1))])
  t.same(await storage.get('clicks/year=2026/month=01/day=01/hour=00/x.parquet'), new Uint8Array([1]), 'data kept')
  t.same(await c.create(rec('clicks', 3)), rec('clicks', 3), 'a deleted name can be created again')
})

t.test('get is cached for the TTL; local create/delete invalidate it', async (t) => {
  const inner = await createFsStorage({ dir: t.testdir() })
  let gets = 0
  const storage: Storage = { ...inner, get: (k) => { gets++; return inner.get(k) } }
  let clock = 1000
  const c = createCatalog(storage, { ttlMs: 2000, now: () => clock })
  const other = createCatalog(inner)
  t.equal(await c.get('t'), null)
  await other.create(rec('t'))
  t.equal(await c.get('t'), null, 'a miss is cached too')
  await Promise.all([c.get('t'), c.get('t'), c.get('t')])
  t.equal(gets, 1, 'one storage read while fresh')
  clock += 2001
  const [a, b] = await Promise.all([c.get('t'), c.get('t')])
  t.same(a, shown(rec('t')))
  t.same(b, shown(rec('t')))
  t.equal(gets, 2, 'concurrent lookups share one read')
  await c.delete('t')
  t.equal(await c.get('t'), null, 'local delete is visible at once')
  await c.create(rec('t', 5))
  t.same(await c.get('t'), shown(rec('t', 5)), 'local create is visible at once')
})

async function race (t: Test, a: Storage, b: Storage) {
  const ca = createCatalog(a)
  const cb = createCatalog(b)
  const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 ? ca : cb).create(rec('race', i))))
  const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []))
  t.equal(won.length, 1, 'exactly one creator wins')
  t.same(results.flatMap((r) => r.status === 'rejected' && (r.reason as { code?: string }).code !== 'QUIVER_TOPIC_EXISTS' ? [String((r.reason as Error).stack ?? r.reason)] : []), [], 'all others get 409')
  t.same(await createCatalog(a).get('race'), shown(rec('race', won[0])), 'the stored record is the winner\'s')
  t.same(await cb.list(), [shown(rec('race', won[0]))])
}

t.test('two catalogs on one directory race create 20 times: one wins', async (t) => {
  const dir = t.testdir()
  await race(t, await createFsStorage({ dir }), await createFsStorage({ dir }))
})

t.test('two catalogs on one s3rver bucket race create 20 times: one wins', async (t) => {
  const s3 = await startS3rver(t)
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER'
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER'
  const make = () => createS3Storage({ bucket: s3.bucket, prefix: 'gw/', endpoint: s3.endpoint, forcePathStyle: true, staleUploadMs: 0 })
  const a = make()
  const b = make()
  t.teardown(async () => { await a.close(); await b.close() })
  await race(t, a, b)
  t.same(await s3.listKeys('gw/'), ['gw/_catalog/race.json'], 'claims cleaned up')
})
