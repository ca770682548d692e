import t from 'tap'
import { rmSync, writeFileSync, existsSync, utimesSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { createFsStorage, TEMP_PREFIX } from '../../src/storage/fs.ts'
import { storageContract, collect } from './contract.ts'

storageContract(t, async () => createFsStorage({ dir: t.testdir() }))

t.test('temp files are invisible, stale ones removed at startup, fresh ones kept', async (t) => {
  const dir = t.testdir({ a: { 'x.parquet': 'data' } })
  const stale = join(dir, 'a', `${TEMP_PREFIX}old`)
  const fresh = join(dir, 'a', `${TEMP_PREFIX}new`)
  writeFileSync(stale, 'half')
  writeFileSync(fresh, 'half')
  const old = new Date(Date.now() - 10 * 60_000)
  utimesSync(stale, old, old)
  const s = await createFsStorage({ dir })
  t.notOk(existsSync(stale), 'stale temp removed')
  t.ok(existsSync(fresh), 'a temp another instance may be writing is kept')
  t.same((await collect(s.list(''))).map((o) => o.key), ['a/x.parquet'])
})

t.test('objects land at DATA_DIR/key and nothing else is left', async (t) => {
  const dir = t.testdir()
  const s = await createFsStorage({ dir })
  await s.put('t/year=2026/month=01/o.parquet', new Uint8Array([1, 2]))
  t.ok(await s.createExclusive('_catalog/t.json', new Uint8Array([3])))
  t.same(readdirSync(join(dir, 't', 'year=2026', 'month=01')), ['o.parquet'])
  t.same(readdirSync(join(dir, '_catalog')), ['t.json'])
  t.equal(s.location, dir)
  t.equal(s.kind, 'fs')
})

t.test('check fails when the directory is gone or replaced by a file', async (t) => {
  const dir = t.testdir()
  const s = await createFsStorage({ dir: join(dir, 'sub') })
  await s.check()
  rmSync(join(dir, 'sub'), { recursive: true })
  await t.rejects(s.check(), { code: 'ENOENT' })
  writeFileSync(join(dir, 'sub'), 'x')
  await t.rejects(s.check(), /is not a directory/)
})
