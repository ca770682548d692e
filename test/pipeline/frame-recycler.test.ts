import { test } from 'tap'
import { Dictionary, Field, Int32, Int64, List, Schema, Utf8 } from 'apache-arrow'
import { FrameRecycler } from '../../src/pipeline/frame-recycler.ts'

const MiB = 1024 * 1024
const plain = new Schema([new Field('id', new Int64(), false), new Field('s', new Utf8(), true)])

test('before start() every copy gets its own buffer; recycle() after start() hands them (and later ones) to the next messages', async (t) => {
  const r = new FrameRecycler()
  const a = r.alloc(3 * MiB)
  r.recycle() // before start(): nothing is given back, the batches may still go to the pipeline
  const b = r.alloc(3 * MiB)
  t.not(a.buffer, b.buffer)
  r.start(plain)
  const c = r.alloc(3 * MiB)
  t.not(c.buffer, a.buffer, 'what was lent before start() is not given out before recycle()')
  t.not(c.buffer, b.buffer)
  r.recycle() // the held batches (a, b) and c were written: the largest buffer is kept
  const d = r.alloc(3 * MiB - 1000)
  t.equal(d.buffer, c.buffer, 'the next message body reuses the largest buffer')
  t.equal(d.byteLength, 3 * MiB - 1000)
  const e = r.alloc(3 * MiB)
  t.ok(![a.buffer, b.buffer, c.buffer].includes(e.buffer), 'never lent twice before recycle(); one buffer is kept')
  r.recycle()
  const big = r.alloc(8 * MiB)
  t.ok(![c.buffer, e.buffer].includes(big.buffer), 'a larger message gets a larger buffer')
  t.ok(big.buffer.byteLength >= 8 * MiB)
  r.recycle()
  t.equal(r.alloc(2 * MiB).buffer, big.buffer, 'which then takes smaller messages')
  const small = r.alloc(1000)
  r.recycle()
  t.not(r.alloc(1000).buffer, small.buffer, 'small copies are plain allocations')
})

test('schemas with dictionaries (also nested) never recycle: the reader keeps dictionary batches', async (t) => {
  for (const schema of [
    new Schema([new Field('d', new Dictionary(new Utf8(), new Int32()), true)]),
    new Schema([new Field('l', new List(new Field('item', new Dictionary(new Utf8(), new Int32()), true)), true)])
  ]) {
    const r = new FrameRecycler()
    const held = r.alloc(2 * MiB)
    r.start(schema)
    const a = r.alloc(2 * MiB)
    r.recycle()
    const next = r.alloc(2 * MiB)
    t.not(next.buffer, a.buffer)
    t.not(next.buffer, held.buffer)
  }
})
