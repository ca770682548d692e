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

t.test('a token sharing a cached token\'s signature tail misses, and does not disturb the entry', async (t) => {
  const c = createTokenCache<string>(10)
  const tail = 'S'.repeat(40)
  const genuine = `header.payload-alice.${tail}`
  const forged = `header.payload-admin.${tail}`
  c.set(genuine, 'alice', 1e12)
  t.equal(c.get(forged, 0), undefined, 'same last 32 characters, different token: no hit')
  t.equal(c.get(genuine.slice(1), 0), undefined, 'a suffix of the token is not the token')
  t.equal(c.get(`x${genuine}`, 0), undefined, 'nor is a longer token ending in it')
  t.equal(c.get(genuine, 0), 'alice')
  // A new string with the same characters (as each request brings) still hits.
  t.equal(c.get(Buffer.from(genuine).toString('latin1'), 0), 'alice')
  c.set(forged, 'forged-but-verified', 1e12)
  t.equal(c.get(genuine, 0), undefined, 'two verified tokens with one tail evict each other')
  t.equal(c.get(forged, 0), 'forged-but-verified')
  t.equal(c.size, 1)
})
