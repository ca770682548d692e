import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { BufferPool } from '../../src/arrow/buffer-pool.ts'
import { listeningApp, parquetTable } from '../e2e/ingest-helpers.ts'
import { makeIpcStream, testRow } from '../helpers/arrow.ts'
import { waitFor } from '../helpers/wait.ts'

const MiB = 1024 * 1024

t.test('a lease hands out pooled buffers and gives them back on release', async (t) => {
  const pool = new BufferPool(8 * MiB)
  const a = pool.lease()
  const small = a.alloc(1000)
  t.equal(small.buffer.byteLength, 1000, 'small: a plain allocation')
  const big = a.alloc(MiB)
  t.ok(big.buffer.byteLength >= MiB)
  t.equal(big.byteLength, MiB)
  t.equal(pool.freeBytes, 0)
  a.release()
  t.equal(pool.freeBytes, big.buffer.byteLength, 'back in the pool')
  a.release()
  t.equal(pool.freeBytes, big.buffer.byteLength, 'release is idempotent')

  const b = pool.lease()
  const again = b.alloc(MiB - 10)
  t.equal(again.buffer, big.buffer, 'the same memory serves the next request')
  const huge = b.alloc(5 * MiB)
  t.not(huge.buffer, big.buffer)
  b.release()
  const c = pool.lease()
  t.not(c.alloc(300 * 1024).buffer, huge.buffer, 'never more than twice the size asked for')
  c.release()
  t.ok(pool.freeBytes <= 8 * MiB, 'bounded')
})

t.test('the pool keeps at most maxFreeBytes and forgets everything after the idle time', async (t) => {
  const pool = new BufferPool(3 * MiB, 256 * 1024, 40)
  const l = pool.lease()
  for (let i = 0; i < 4; i++) l.alloc(MiB)
  l.release()
  t.ok(pool.freeBytes <= 3 * MiB, `kept ${pool.freeBytes}`)
  t.ok(pool.freeBytes > 0)
  await waitFor(() => pool.freeBytes === 0, 'the idle buffers to be forgotten (40 ms idle time)')
})

t.test('with a budget, buffers kept and buffers in use together stay within it', async (t) => {
  // The ingest service's budget: MAX_BUFFERED_BYTES minus the bytes held (buffers in use count).
  const cap = 40 * MiB
  let inUse = 0
  const pool = new BufferPool(() => cap - inUse)
  const lent: ArrayBuffer[] = []
  const l = pool.lease()
  for (let i = 0; i < 3; i++) {
    const b = l.alloc(8 * MiB)
    lent.push(b.buffer as ArrayBuffer)
    inUse += b.buffer.byteLength
  }
  inUse = 0
  l.release()
  const kept = pool.freeBytes
  t.ok(kept > 24 * MiB && kept <= cap, `all three kept (${kept / MiB} MiB)`)
  // A request of another size class arrives while the budget is nearly used: the kept 9 MiB
  // buffers cannot serve it (more than twice its size), and they make room for it.
  inUse = 30 * MiB
  const m = pool.lease()
  const small = m.alloc(MiB)
  t.notOk(lent.includes(small.buffer as ArrayBuffer), 'a new buffer of its size')
  t.ok(pool.freeBytes + small.buffer.byteLength <= cap - inUse, `kept ${pool.freeBytes / MiB} MiB + new ${small.buffer.byteLength / MiB} MiB within the ${(cap - inUse) / MiB} MiB left`)
  m.release()
  t.ok(pool.freeBytes <= cap - inUse, 'a give keeps within the budget too')
  t.ok(pool.freeBytes > 0, 'the returned buffer is kept: it fits')
})

t.test('a kept buffer nobody takes within the idle time goes, even while others come and go', async (t) => {
  const pool = new BufferPool(64 * MiB, 256 * 1024, 50)
  const big = pool.lease()
  const stale = big.alloc(16 * MiB).buffer
  big.release()
  t.equal(pool.freeBytes, stale.byteLength)
  // Traffic of another size keeps giving buffers back (each give used to restart the idle clock).
  await waitFor(() => {
    const l = pool.lease()
    l.alloc(MiB)
    l.release()
    return pool.freeBytes < stale.byteLength
  }, 'the 16 MiB buffer to be dropped', { everyMs: 10, timeoutMs: 10_000 })
  const l = pool.lease()
  t.not(l.alloc(16 * MiB).buffer, stale, 'a new one serves the next 16 MiB request')
  l.release()
})

function walk (dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? walk(p) : [p]
  })
}

t.test('requests whose bodies reuse pooled buffers store every row with its own values', async (t) => {
  const { base, writer, admin, dataDir } = await listeningApp(t)
  const ROWS = 30_000
  let next = 0
  // 5 waves of 4 concurrent requests; each message (~600 KiB) spans socket chunks, so it is
  // copied into a pooled buffer that the previous wave's requests gave back.
  for (let wave = 0; wave < 5; wave++) {
    await Promise.all([0, 1, 2, 3].map(async (k) => {
      const start = next
      next += ROWS
      const ack = k % 2 === 0 ? 'durable' : 'accepted'
      const res = await fetch(`${base}/v1/topics/events/records?ack=${ack}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' },
        body: Buffer.from(makeIpcStream(ROWS, { start, batchRows: 15_000 }))
      })
      t.equal(res.status, ack === 'durable' ? 200 : 202, await res.clone().text())
    }))
  }
  const flushed = await fetch(`${base}/v1/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } })
  t.equal(flushed.status, 200)
  const seen = new Uint8Array(next)
  let wrong = 0
  for (const f of walk(join(dataDir, 'events')).filter((p) => p.endsWith('.parquet'))) {
    const table = parquetTable(readFileSync(f))
    const ids = table.getChild('id')!.toArray() as BigInt64Array
    const names = table.getChild('name')!
    const prices = table.getChild('price')!
    for (let i = 0; i < ids.length; i++) {
      const id = Number(ids[i])
      seen[id]++
      const want = testRow(id)
      if (names.get(i) !== want.name || prices.get(i) !== want.price) wrong++
    }
  }
  t.equal(seen.reduce((n, v) => n + v, 0), next, 'every row stored')
  t.equal(seen.every((v) => v === 1), true, 'each exactly once')
  t.equal(wrong, 0, 'no row holds another request\'s values')
})
