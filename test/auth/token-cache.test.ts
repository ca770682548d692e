import t from 'tap'
import { createTokenCache } from '../../src/auth/token-cache.ts'

t.test('hits until the deadline, then misses and forgets', async (t) => {
  const c = createTokenCache<string>(10)
  c.set('tok-a', 'alice', 1000)
  t.equal(c.get('tok-a', 999), 'alice')
  t.equal(c.get('tok-a', 1000), 'alice')
  t.equal(c.get('tok-a', 1001), undefined)
  t.equal(c.size, 0, 'the expired entry is gone')
  t.equal(c.get('tok-b', 0), undefined)
})

t.test('bounded: the oldest inserted entry goes first, hits do not reorder', async (t) => {
  const c = createTokenCache<number>(3)
  c.set('a', 1, 1e12)
  c.set('b', 2, 1e12)
  c.set('c', 3, 1e12)
  t.equal(c.get('a', 0), 1)
  c.set('d', 4, 1e12)
  t.equal(c.size, 3)
  t.equal(c.get('a', 0), undefined, 'oldest insert evicted although it was just read')
  t.same(['b', 'c', 'd'].map((k) => c.get(k, 0)), [2, 3, 4])
  c.set('b', 20, 1e12) // re-set refreshes its place
  c.set('e', 5, 1e12)
  t.equal(c.get('c', 0), undefined)
  t.equal(c.get('b', 0), 20)
  c.clear()
  t.equal(c.size, 0)
})
