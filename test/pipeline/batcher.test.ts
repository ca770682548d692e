import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Batcher, defaultRetryDelay, type BatchEntry } from '../../src/pipeline/batcher.ts'

// The batcher is pure: `write` here is an in-test recorder standing in for encode + upload.
interface Written { partition: string, payloads: string[] }

function setup (opts: { intervalMs?: number, maxBytes?: number, fail?: () => Error | null, writeMs?: number } = {}) {
  const written: Written[] = []
  const settled: Array<{ payload: string, err: string | null }> = []
  let inFlight = 0
  let maxInFlight = 0
  const b = new Batcher<string>({
    intervalMs: opts.intervalMs ?? 50,
    maxBytes: opts.maxBytes ?? 1000,
    retryDelayMs: () => 20,
    async write (partition, entries) {
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      try {
        await sleep(opts.writeMs ?? 5)
        const err = opts.fail?.()
        if (err) throw err
        written.push({ partition, payloads: entries.map((e) => e.payload) })
      } finally { inFlight-- }
    },
    onSettled (entry, err) { settled.push({ payload: entry.payload, err: err?.message ?? null }) }
  })
  const entry = (payload: string, bytes = 10, partition = 'h1', retain = false): BatchEntry<string> =>
    ({ payload, rows: 1, bytes, partition, retain })
  return { b, written, settled, entry, maxInFlight: () => maxInFlight }
}

t.test('entries of many writers within the interval become one write', async (t) => {
  const { b, written, entry } = setup({ intervalMs: 60 })
  const start = Date.now()
  const all = Array.from({ length: 40 }, (_, i) => b.add(entry(`r${i}`)))
  t.equal(b.bufferedBytes, 400)
  t.equal(b.bufferedRows, 40)
  await Promise.all(all)
  t.ok(Date.now() - start >= 55, 'waited for the interval')
  t.same(written, [{ partition: 'h1', payloads: Array.from({ length: 40 }, (_, i) => `r${i}`) }])
  t.equal(b.bufferedBytes, 0)
  t.ok(b.idle)
})

t.test('maxBytes flushes at once; one write per partition', async (t) => {
  const { b, written, entry } = setup({ intervalMs: 10_000, maxBytes: 30 })
  const start = Date.now()
  await Promise.all([b.add(entry('a', 10, 'h1')), b.add(entry('b', 10, 'h2')), b.add(entry('c', 10, 'h1'))])
  t.ok(Date.now() - start < 1000, 'did not wait for the interval')
  t.same(written.sort((x, y) => x.partition.localeCompare(y.partition)), [
    { partition: 'h1', payloads: ['a', 'c'] },
    { partition: 'h2', payloads: ['b'] }
  ])
})

t.test('one flush in flight; entries arriving meanwhile wait for the next one', async (t) => {
  const s = setup({ intervalMs: 10, writeMs: 60 })
  const first = s.b.add(s.entry('a'))
  await sleep(30) // first flush now in flight
  const second = [s.b.add(s.entry('b')), s.b.add(s.entry('c'))]
  t.equal(s.b.bufferedRows, 3, 'in-flight rows still count as buffered')
  await Promise.all([first, ...second])
  t.same(s.written.map((w) => w.payloads), [['a'], ['b', 'c']])
  t.equal(s.maxInFlight(), 1)
})

t.test('a failed write rejects exactly its own non-retained waiters; retained entries are retried', async (t) => {
  let failures = 1
  const s = setup({ intervalMs: 10, fail: () => failures-- > 0 ? new Error('storage down') : null })
  const durable = s.b.add(s.entry('durable', 10, 'h1', false))
  const accepted = s.b.add(s.entry('accepted', 10, 'h1', true))
  await t.rejects(durable, { message: 'storage down' })
  await accepted
  t.same(s.written, [{ partition: 'h1', payloads: ['accepted'] }], 'dropped entry never written, retained one written once')
  t.same(s.settled, [{ payload: 'durable', err: 'storage down' }, { payload: 'accepted', err: null }])
  // a later entry is not affected by the earlier failure
  await s.b.add(s.entry('later'))
  t.same(s.written.at(-1), { partition: 'h1', payloads: ['later'] })
})

t.test('errors in one partition do not reach the waiters of another', async (t) => {
  const written: string[] = []
  const b = new Batcher<string>({
    intervalMs: 10,
    maxBytes: 1000,
    async write (partition, entries) {
      if (partition === 'bad') throw new Error('bad partition')
      written.push(...entries.map((e) => e.payload))
    }
  })
  const ok = b.add({ payload: 'x', rows: 1, bytes: 1, partition: 'good', retain: false })
  const ko = b.add({ payload: 'y', rows: 1, bytes: 1, partition: 'bad', retain: false })
  await ok
  await t.rejects(ko, { message: 'bad partition' })
  t.same(written, ['x'])
})

t.test('flush() resolves when durable, rejects on failure, keeps retained data for the next one', async (t) => {
  let down = true
  const s = setup({ intervalMs: 10_000, fail: () => down ? new Error('down') : null })
  const accepted = s.b.add(s.entry('keep', 10, 'h1', true))
  await t.rejects(s.b.flush(), { message: 'down' })
  t.equal(s.b.bufferedRows, 1, 'still buffered after the failure')
  down = false
  await s.b.flush()
  await accepted
  t.same(s.written, [{ partition: 'h1', payloads: ['keep'] }])
  await s.b.flush() // nothing buffered: returns at once
  t.ok(s.b.idle)
})

t.test('close() drops whatever is left with the given error', async (t) => {
  const s = setup({ intervalMs: 10_000 })
  const p = s.b.add(s.entry('left'))
  s.b.close(new Error('closing'))
  await t.rejects(p, { message: 'closing' })
  t.same(s.written, [])
  t.same(s.settled, [{ payload: 'left', err: 'closing' }])
})

t.test('retry delay grows and is capped', async (t) => {
  t.equal(defaultRetryDelay(1), 250)
  t.equal(defaultRetryDelay(2), 500)
  t.equal(defaultRetryDelay(50), 30_000)
})

t.test('after a failed flush that kept nothing, the next entry is still written once storage is back', async (t) => {
  let failing = true
  const { b, written, entry } = setup({ intervalMs: 30, fail: () => (failing ? new Error('storage down') : null) })
  await t.rejects(b.add(entry('lost')), { message: 'storage down' }, 'durable entry rejected, not retained')
  failing = false
  const settled = await Promise.race([b.add(entry('next')).then(() => 'written'), sleep(2000).then(() => 'stuck')])
  t.equal(settled, 'written')
  t.same(written, [{ partition: 'h1', payloads: ['next'] }])
})

t.test('maxInFlight lets a size-triggered flush start while the previous one is still writing', async (t) => {
  const written: string[][] = []
  let inFlight = 0
  let peak = 0
  const b = new Batcher<string>({
    intervalMs: 10_000,
    maxBytes: 10,
    maxInFlight: 2,
    async write (_p, entries) {
      inFlight++
      peak = Math.max(peak, inFlight)
      await sleep(100)
      written.push(entries.map((e) => e.payload))
      inFlight--
    }
  })
  const e = (payload: string) => ({ payload, rows: 1, bytes: 10, partition: 'h1', retain: false })
  await Promise.all([b.add(e('a')), b.add(e('b')), b.add(e('c'))])
  t.equal(peak, 2, 'two writes overlapped, never more')
  t.same(written.flat().sort(), ['a', 'b', 'c'])
})

t.test('a flush never takes more than maxBytes: an entry without room flushes what is buffered first', async (t) => {
  const written: Array<{ payloads: string[], at: number }> = []
  const start = Date.now()
  const b = new Batcher<string>({
    intervalMs: 150,
    maxBytes: 64,
    maxInFlight: 2,
    async write (_p, entries) {
      await sleep(40)
      written.push({ payloads: entries.map((e) => e.payload), at: Date.now() - start })
    }
  })
  const e = (payload: string, bytes: number) => ({ payload, rows: 1, bytes, partition: 'h1', retain: false })
  const a = b.add(e('a', 38))
  const bb = b.add(e('b', 38)) // 76 > 64: 'a' is a full flush, 'b' starts the next buffer
  const c = b.add(e('c', 38)) // again: 'b' flushes, 'c' waits
  await Promise.all([a, bb])
  t.same(written.map((w) => w.payloads), [['a'], ['b']], 'one object each, both started at once')
  t.ok(written[1].at < 140, `'b' did not wait for the interval (${written[1].at} ms)`)
  t.equal(b.bufferedBytes, 38, "'c' is still buffered")
  await c
  t.same(written[2].payloads, ['c'])
  t.ok(written[2].at >= 140, `'c' waited for its interval (${written[2].at} ms)`)

  // Entries that piled up while both flushes were busy leave in maxBytes-sized flushes.
  const d = new Batcher<string>({
    intervalMs: 200,
    maxBytes: 30,
    maxInFlight: 1,
    async write (_p, entries) { await sleep(30); written.push({ payloads: entries.map((x) => x.payload), at: 0 }) }
  })
  written.length = 0
  await Promise.all(['p', 'q', 'r', 's', 'u', 'v', 'w', 'x'].map((x) => d.add(e(x, 10))))
  t.same(written.map((w) => w.payloads), [['p', 'q', 'r'], ['s', 'u', 'v'], ['w', 'x']])
})

t.test('desync shortens the second window once, by its fraction; the first and later ones are whole', async (t) => {
  const times: number[] = []
  const t0 = performance.now()
  let calls = 0
  const b = new Batcher<string>({
    intervalMs: 200,
    maxBytes: 1000,
    desync: () => { calls++; return 0.5 },
    async write () { times.push(performance.now() - t0) }
  })
  const e = (payload: string): BatchEntry<string> => ({ payload, rows: 1, bytes: 10, partition: 'h', retain: false })
  await b.add(e('a')) // window 1 starts at 0: whole
  await b.add(e('b')) // window 2 starts at ~200: shortened to 100
  await b.add(e('c')) // window 3 starts at ~300: whole again
  t.equal(calls, 1, 'asked once')
  t.ok(times[0] >= 195 && times[0] < 290, `first flush after a whole interval (${times[0].toFixed(0)} ms)`)
  const second = times[1] - times[0]
  t.ok(second >= 95 && second < 190, `second window half as long (${second.toFixed(0)} ms)`)
  const third = times[2] - times[1]
  t.ok(third >= 195, `third window whole (${third.toFixed(0)} ms)`)
})
