import t from 'tap'
import { ownsBuffer, transferable } from '../src/transfer.ts'

t.test('only a view over its whole, non-shared buffer is transferred as is', async (t) => {
  const whole = new Uint8Array([1, 2, 3])
  t.ok(ownsBuffer(whole))
  t.equal(transferable(whole), whole, 'no copy')

  const pooled = new Uint8Array(16)
  for (const view of [pooled.subarray(0, 3), pooled.subarray(4, 8), new Uint8Array(new SharedArrayBuffer(4))]) {
    t.notOk(ownsBuffer(view))
    const copy = transferable(view)
    t.not(copy, view)
    t.ok(ownsBuffer(copy), 'the copy owns its buffer')
    t.same([...copy], [...view], 'same bytes')
    structuredClone(copy, { transfer: [copy.buffer as ArrayBuffer] })
    t.equal(pooled.byteLength, 16, 'transferring the copy leaves the pooled buffer attached')
  }
})
