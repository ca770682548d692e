import t, { type Test } from 'tap'
import { createCatalog } from '../../src/catalog.ts'
import { createFsStorage } from '../../src/storage/fs.ts'
import { createS3Storage } from '../../src/storage/s3.ts'
import type { Storage } from '../../src/storage/types.ts'
import type { FieldSpec, TopicRecord, TopicSchema } from '../../src/schema/topic-schema.ts'
import { startS3rver } from '../helpers/s3rver.ts'

const BASE: FieldSpec[] = [{ name: 'id', type: 'int64', nullable: false }]
const rec = (name: string): TopicRecord => ({ name, schema: { fields: BASE }, createdAt: '2026-01-01T00:00:00.000Z' })
const adding = (field: string) => (latest: TopicRecord): TopicSchema | null =>
  latest.schema.fields.some((f) => f.name === field) ? null : { fields: [...latest.schema.fields, { name: field, type: 'string', nullable: true }] }
const names = (r: TopicRecord | null) => r?.schema.fields.map((f) => f.name)

async function keys (storage: Storage, prefix: string): Promise<string[]> {
  const out: string[] = []
  for await (const o of storage.list(prefix)) out.push(o.key)
  return out
}

t.test('every version is kept; get shows the latest; delete removes them; a re-created topic starts at 1', async (t) => {
  const storage = await createFsStorage({ dir: t.testdir() })
  const c = createCatalog(storage, { autoEvolve: false })
  await c.create({ ...rec('ev'), evolution: 'additive' })
  const v2 = await c.evolve('ev', adding('a'))
  t.match(v2, { name: 'ev', schemaVersion: 2, evolution: 'additive', createdAt: '2026-01-01T00:00:00.000Z', evolvedAt: String })
  t.same(names(v2), ['id', 'a'])
  t.same(await c.evolve('ev', adding('a')), v2, 'a change already made writes nothing')
  const v3 = await c.evolve('ev', adding('b'))
  t.equal(v3.schemaVersion, 3)
  t.same(await createCatalog(storage).get('ev'), v3, 'another instance reads the latest version')
  t.same((await c.versions('ev')).map((v) => [v.schemaVersion, names(v)]), [[1, ['id']], [2, ['id', 'a']], [3, ['id', 'a', 'b']]])
  t.same(await keys(storage, '_catalog/'), [
    '_catalog/ev.json',
    `_catalog/ev.versions/${Date.parse('2026-01-01T00:00:00.000Z')}/0000000002.json`,
    `_catalog/ev.versions/${Date.parse('2026-01-01T00:00:00.000Z')}/0000000003.json`
  ])
  t.same((await c.list()).map((r) => [r.name, r.schemaVersion]), [['ev', 3]])
  await t.rejects(c.evolve('nope', adding('a')), { code: 'QUIVER_TOPIC_NOT_FOUND', statusCode: 404 })

  t.equal(await c.delete('ev'), true)
  t.same(await keys(storage, '_catalog/'), [], 'versions removed with the topic')
  await c.create(rec('ev'))
  t.match(await c.get('ev'), { schemaVersion: 1, evolution: 'none' }, 're-created: version 1, AUTO_EVOLVE_TOPICS=false as its evolution')
})

t.test('a version left behind by an interrupted delete is never read by the next incarnation', async (t) => {
  const storage = await createFsStorage({ dir: t.testdir() })
  const c = createCatalog(storage)
  await c.create(rec('ghost'))
  await c.evolve('ghost', adding('old'))
  // the record goes, its versions stay (as if the delete were cut short)
  await storage.delete('_catalog/ghost.json')
  await c.create({ ...rec('ghost'), createdAt: '2026-02-01T00:00:00.000Z' })
  t.same(names(await c.get('ghost')), ['id'])
  t.equal((await c.evolve('ghost', adding('new'))).schemaVersion, 2)
  t.same(names(await c.get('ghost')), ['id', 'new'])
})

/** Two catalogs (two gateways) each add their own fields to one topic, all at once. */
async function race (t: Test, a: Storage, b: Storage) {
  const ca = createCatalog(a)
  const cb = createCatalog(b)
  await ca.create(rec('race'))
  const fields = Array.from({ length: 12 }, (_, i) => `f${i}`)
  const results = await Promise.all(fields.map((f, i) => (i % 2 ? ca : cb).evolve('race', adding(f))))
  const versions = results.map((r) => r.schemaVersion!).sort((x, y) => x - y)
  t.same(versions, Array.from({ length: 12 }, (_, i) => i + 2), 'each change wrote its own version: 2…13')
  const latest = await createCatalog(a).get('race')
  t.equal(latest?.schemaVersion, 13)
  t.same(names(latest)?.slice().sort(), ['id', ...fields].sort(), 'no field lost')
  const all = await cb.versions('race')
  t.same(all.map((v) => v.schemaVersion), Array.from({ length: 13 }, (_, i) => i + 1))
  for (let i = 1; i < all.length; i++) {
    const before = names(all[i - 1])!
    t.same(names(all[i])!.slice(0, before.length), before, `version ${i + 1} keeps every field of version ${i}`)
  }
}

t.test('two catalogs on one directory evolve one topic at once: one version each, no field lost', async (t) => {
  const dir = t.testdir()
  await race(t, await createFsStorage({ dir }), await createFsStorage({ dir }))
})

t.test('two catalogs on one s3rver bucket (which ignores If-None-Match) evolve one topic at once', async (t) => {
  const s3 = await startS3rver(t)
  const make = () => createS3Storage({ bucket: s3.bucket, prefix: 'gw/', endpoint: s3.endpoint, forcePathStyle: true, staleUploadMs: 0 })
  const a = make()
  const b = make()
  t.teardown(async () => { await a.close(); await b.close() })
  await race(t, a, b)
  t.same((await s3.listKeys('gw/')).filter((k) => k.includes('.claims/')), [], 'claims cleaned up')
})
