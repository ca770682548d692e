import { createHash, randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import type { Storage } from '../../src/storage/types.ts'

export async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

export const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

export async function * chunks (total: number, size: number, failAt?: number): AsyncGenerator<Uint8Array> {
  let sent = 0
  while (sent < total) {
    if (failAt !== undefined && sent >= failAt) throw new Error('producer failed')
    const n = Math.min(size, total - sent)
    yield randomBytes(n)
    sent += n
  }
}

/** Behaviour every Storage must have, run against fs and s3rver alike. */
export function storageContract (t: Test, make: () => Promise<Storage>): void {
  t.test('put / get / list / delete', async (t) => {
    const s = await make()
    const body = new TextEncoder().encode('hello parquet')
    await s.put('a/year=2026/x.parquet', body)
    await s.put('a/year=2026/y.parquet', new Uint8Array([1, 2, 3]))
    await s.put('ab/z.parquet', new Uint8Array([9]))
    t.same(await s.get('a/year=2026/x.parquet'), body)
    t.equal(await s.get('a/missing'), null)
    const listed = await collect(s.list('a/'))
    t.same(listed.map((o) => [o.key, o.bytes]), [['a/year=2026/x.parquet', 13], ['a/year=2026/y.parquet', 3]])
    t.ok(listed.every((o) => o.lastModified instanceof Date && !Number.isNaN(o.lastModified.getTime())))
    t.same((await collect(s.list('a'))).map((o) => o.key).sort(), ['a/year=2026/x.parquet', 'a/year=2026/y.parquet', 'ab/z.parquet'])
    t.same(await collect(s.list('nothing/')), [])
    await s.delete('a/year=2026/x.parquet')
    await s.delete('a/year=2026/x.parquet')
    t.equal(await s.get('a/year=2026/x.parquet'), null)
    t.same((await collect(s.list('a/'))).map((o) => o.key), ['a/year=2026/y.parquet'])
    await s.check()
    await s.close()
  })

  t.test('putStream commits the whole stream byte-identical', async (t) => {
    const s = await make()
    const parts: Uint8Array[] = []
    const src = chunks(3 * 1024 * 1024 + 17, 256 * 1024)
    const tee = (async function * () { for await (const c of src) { parts.push(c); yield c } })()
    const res = await s.putStream('big/one.bin', tee)
    t.equal(res.bytes, 3 * 1024 * 1024 + 17)
    const back = await s.get('big/one.bin')
    t.equal(sha(back!), sha(Buffer.concat(parts)))
    await s.close()
  })

  t.test('a putStream whose producer fails leaves nothing behind', async (t) => {
    const s = await make()
    await t.rejects(s.putStream('fail/one.bin', chunks(2 * 1024 * 1024, 128 * 1024, 1024 * 1024)), /producer failed/)
    t.equal(await s.get('fail/one.bin'), null)
    t.same(await collect(s.list('fail/')), [])
    await s.close()
  })

  t.test('createExclusive: 20 concurrent creators, exactly one wins, content is the winner\'s', async (t) => {
    const s = await make()
    const bodies = Array.from({ length: 20 }, (_, i) => new TextEncoder().encode(`creator-${i}`))
    const results = await Promise.all(bodies.map((b) => s.createExclusive('_catalog/race.json', b)))
    t.equal(results.filter(Boolean).length, 1)
    const winner = results.indexOf(true)
    t.same(await s.get('_catalog/race.json'), bodies[winner])
    t.equal(await s.createExclusive('_catalog/race.json', new Uint8Array([1])), false, 'later create loses too')
    t.same((await collect(s.list('_catalog/'))).map((o) => o.key), ['_catalog/race.json'], 'no claims or temps listed')
    await s.close()
  })

  t.test('keys that escape the root are refused', async (t) => {
    const s = await make()
    for (const k of ['../x', 'a/../../x', '/abs', 'a//b', '']) {
      await t.rejects(s.put(k, new Uint8Array([1])), /invalid storage key/, k)
    }
    await s.close()
  })
}
