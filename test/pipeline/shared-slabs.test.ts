import t from 'tap'
import { SharedSlabs } from '../../src/pipeline/shared-slabs.ts'
import { RecordBatchStreamWriter, Table } from 'apache-arrow'
import { writeIpcStream } from '../../src/arrow/encode.ts'
import { makeBatch } from '../helpers/arrow.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('a released slab serves the next request that fits; at most maxFreeBytes are kept, the largest', async (t) => {
  const MiB = 1024 * 1024
  const slabs = new SharedSlabs(40 * MiB)
  const a = slabs.acquire(1000)
  t.ok(a.buffer instanceof SharedArrayBuffer)
  t.equal(a.byteLength, 1000)
  slabs.release(a)
  const b = slabs.acquire(1200)
  t.equal(b.buffer, a.buffer, 'same memory reused')
  const c = slabs.acquire(20 * MiB)
  t.not(c.buffer, a.buffer, 'too small: a new slab')
  t.ok(c.buffer.byteLength >= 25 * MiB, 'room to grow')
  slabs.release(c)
  t.not(slabs.acquire(MiB).buffer, c.buffer, 'a slab far too big is left for a big flush')
  const d = slabs.acquire(10)
  slabs.release(b)
  slabs.release(d)
  t.equal(slabs.retainedBytes, c.buffer.byteLength + b.buffer.byteLength + d.buffer.byteLength)
  slabs.release(slabs.acquire(30 * MiB)) // over the budget with the others: the smallest go
  t.ok(slabs.retainedBytes <= 40 * MiB, `kept ${slabs.retainedBytes}`)
  slabs.release(new Uint8Array(8)) // not a slab: ignored
  t.ok(slabs.retainedBytes <= 40 * MiB)
})

t.test('free slabs are dropped after the idle time', async (t) => {
  const slabs = new SharedSlabs(1024 * 1024, 30)
  slabs.release(slabs.acquire(100))
  t.ok(slabs.retainedBytes > 0)
  await waitFor(() => slabs.retainedBytes === 0, 'the idle slabs to be dropped (30 ms idle time)')
})

t.test('writeIpcStream writes the same bytes as apache-arrow\'s stream writer, into the given buffer', async (t) => {
  const batches = [makeBatch(1000), makeBatch(500, 1000)]
  const expected = RecordBatchStreamWriter.writeAll(new Table(batches)).toUint8Array(true)
  let given: Uint8Array | null = null
  const out = writeIpcStream(batches, batches[0].schema, (n) => { given = new Uint8Array(new SharedArrayBuffer(n + 64), 0, n); return given })
  t.equal(out, given)
  t.same(Buffer.from(out).equals(Buffer.from(expected)), true)
})
