import t from 'tap'
import { manualClock } from '../helpers/clock.ts'
import { Batcher, defaultRetryDelay, type BatchEntry } from '../../src/pipeline/batcher.ts'

// The batcher is pure: `write` here is an in-test recorder standing in for encode + upload.
interface Written { partition: string, payloads: string[] }

function setup (opts: { intervalMs?: number, maxBytes?: number, maxInFlight?: number, fail?: () => Error | null, writeMs?: number } = {}) {
  const written: Written[] = []
  /** clock.now() when each write of `written` ended. */
  const writtenAt: number[] = []
  const settled: Array<{ payload: string, err: string | null }> = []
  let inFlight = 0
  let maxInFlight = 0
  const clock = manualClock()
  const b = new Batcher<string>({
    intervalMs: opts.intervalMs ?? 50,
    maxBytes: opts.maxBytes ?? 1000,
    maxInFlight: opts.maxInFlight,
    retryDelayMs: () => 20,
    clock,
    async write (partition, entries) {
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      try {
        await clock.sleep(opts.writeMs ?? 5)
        const err = opts.fail?.()
        if (err) throw err
        written.push({ partition, payloads: entries.map((e) => e.payload) })
        writtenAt.push(clock.now())
      } finally { inFlight-- }
    },
    onSettled (entry, err) { settled.push({ payload: entry.payload, err: err?.message ?? null }) }
  })
  const entry = (payload: string, bytes = 10, partition = 'h1', retain = false): BatchEntry<string> =>
    ({ payload, rows: 1, bytes, partition, retain })
  return { b, clock, written, writtenAt, settled, entry, maxInFlight: () => maxInFlight }
}

t.test('entries of many writers within the interval become one write', async (t) => {
  const { b, clock, written, entry } = setup({ intervalMs: 60 })
  const all = Promise.all(Array.from({ length: 40 }, (_, i) => b.add(entry(`r${i}`))))
  t.equal(b.bufferedBytes, 400)
  t.equal(b.bufferedRows, 40)
  await clock.advance(59)
  t.same(written, [], 'nothing written before the interval')
  await clock.advance(1 + 5)
  await all
  t.same(written, [{ partition: 'h1', payloads: Array.from({ length: 40 }, (_, i) => `r${i}`) }])
  t.equal(b.bufferedBytes, 0)
  t.ok(b.idle)
})

t.test('maxBytes flushes at once; one write per partition', async (t) => {
  const { b, clock, written, entry } = setup({ intervalMs: 10_000, maxBytes: 30 })
  const all = Promise.all([b.add(entry('a', 10, 'h1')), b.add(entry('b', 10, 'h2')), b.add(entry('c', 10, 'h1'))])
  await clock.advance(5) // the write's own time, not the interval
  await all
  t.same(written.sort((x, y) => x.partition.localeCompare(y.partition)), [
    { partition: 'h1', payloads: ['a', 'c'] },
    { partition: 'h2', payloads: ['b'] }
  ])
})

t.test('one flush in flight; entries arriving meanwhile wait for the next one', async (t) => {
  const s = setup({ intervalMs: 10, writeMs: 60 })
  const first = s.b.add(s.entry('a'))
  await s.clock.advance(30) // first flush (10 → 70) now in flight
  const second = [s.b.add(s.entry('b')), s.b.add(s.entry('c'))]
  t.equal(s.b.bufferedRows, 3, 'in-flight rows still count as buffered')
  await s.clock.advance(200)
  await Promise.all([first, ...second])
  t.same(s.written.map((w) => w.payloads), [['a'], ['b', 'c']])
  t.equal(s.maxInFlight(), 1)
})

t.test('a failed write rejects exactly its own non-retained waiters; retained entries are retried', async (t) => {
  let failures = 1
  const s = setup({ intervalMs: 10, fail: () => failures-- > 0 ? new Error('storage down') : null })
  const durable = t.rejects(s.b.add(s.entry('durable', 10, 'h1', false)), { message: 'storage down' })
  const accepted = s.b.add(s.entry('accepted', 10, 'h1', true))
  await s.clock.advance(100) // window 10, write 5, retry after 20, write 5
  await durable
  await accepted
  t.same(s.written, [{ partition: 'h1', payloads: ['accepted'] }], 'dropped entry never written, retained one written once')
  t.same(s.settled, [{ payload: 'durable', err: 'storage down' }, { payload: 'accepted', err: null }])
  // a later entry is not affected by the earlier failure
  const later = s.b.add(s.entry('later'))
  await s.clock.advance(15)
  await later
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
  const s = setup({ intervalMs: 10_000, fail: () => down ? new Error('down') : null, writeMs: 0 })
  const accepted = s.b.add(s.entry('keep', 10, 'h1', true))
  const failed = t.rejects(s.b.flush(), { message: 'down' })
  await s.clock.advance(0)
  await failed
  t.equal(s.b.bufferedRows, 1, 'still buffered after the failure')
  down = false
  const flushed = s.b.flush()
  await s.clock.advance(0)
  await flushed
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
  const { b, clock, written, entry } = setup({ intervalMs: 30, fail: () => (failing ? new Error('storage down') : null) })
  const lost = t.rejects(b.add(entry('lost')), { message: 'storage down' }, 'durable entry rejected, not retained')
  await clock.advance(35)
  await lost
  failing = false
  let settled = 'stuck'
  const next = b.add(entry('next')).then(() => { settled = 'written' })
  await clock.advance(20 + 5) // the backoff after one failure, then the write
  await next
  t.equal(settled, 'written')
  t.same(written, [{ partition: 'h1', payloads: ['next'] }])
})

t.test('maxInFlight lets a size-triggered flush start while the previous one is still writing', async (t) => {
  const { b, clock, written, entry, maxInFlight } = setup({ intervalMs: 10_000, maxBytes: 10, maxInFlight: 2, writeMs: 100 })
  const all = Promise.all([b.add(entry('a')), b.add(entry('b')), b.add(entry('c'))])
  await clock.advance(300)
  await all
  t.equal(maxInFlight(), 2, 'two writes overlapped, never more')
  t.same(written.flatMap((w) => w.payloads).sort(), ['a', 'b', 'c'])
})

t.test('a flush never takes more than maxBytes: an entry without room flushes what is buffered first', async (t) => {
  const { b, clock, written, writtenAt, entry } = setup({ intervalMs: 150, maxBytes: 64, maxInFlight: 2, writeMs: 40 })
  const a = b.add(entry('a', 38))
  const bb = b.add(entry('b', 38)) // 76 > 64: 'a' is a full flush, 'b' starts the next buffer
  const c = b.add(entry('c', 38)) // again: 'b' flushes, 'c' waits
  await clock.advance(40)
  await Promise.all([a, bb])
  t.same(written.map((w) => w.payloads), [['a'], ['b']], 'one object each')
  t.same(writtenAt, [40, 40], 'both started at once, without waiting for the interval')
  t.equal(b.bufferedBytes, 38, "'c' is still buffered")
  await clock.advance(150)
  await c
  t.same([written[2].payloads, writtenAt[2]], [['c'], 190], "'c' waited for its interval (150) and its write (40)")

  // Entries that piled up while both flushes were busy leave in maxBytes-sized flushes.
  const d = setup({ intervalMs: 200, maxBytes: 30, maxInFlight: 1, writeMs: 30 })
  const piled = Promise.all(['p', 'q', 'r', 's', 'u', 'v', 'w', 'x'].map((x) => d.b.add(d.entry(x, 10))))
  await d.clock.advance(400)
  await piled
  t.same(d.written.map((w) => w.payloads), [['p', 'q', 'r'], ['s', 'u', 'v'], ['w', 'x']])
})

t.test('desync shortens the second window once, by its fraction; the first and later ones are whole', async (t) => {
  const times: number[] = []
  const clock = manualClock()
  let calls = 0
  const b = new Batcher<string>({
    intervalMs: 200,
    maxBytes: 1000,
    desync: () => { calls++; return 0.5 },
    clock,
    async write () { times.push(clock.now()) }
  })
  const e = (payload: string): BatchEntry<string> => ({ payload, rows: 1, bytes: 10, partition: 'h', retain: false })
  for (const payload of ['a', 'b', 'c', 'd']) {
    const added = b.add(e(payload))
    await clock.advance(250)
    await added
  }
  t.equal(calls, 1, 'asked once')
  // a: window 0–200 (whole); b added at 250, after a's flush started at 200: 200–300 (half);
  // c added at 500, a whole window after b's flush started: 500–700 (whole); d added at 750:
  // what is left of the window that c's flush started (700–900).
  t.same(times, [200, 300, 700, 900])
})

t.test('windows follow one another under steady load: an entry added while a flush writes waits for the rest of the interval only', async (t) => {
  const { b, clock, written, writtenAt, entry } = setup({ intervalMs: 100, writeMs: 30 })
  // A closed-loop producer: sends again as soon as its entry is written.
  const first = b.add(entry('a'))
  await clock.advance(130)
  await first
  t.same(writtenAt, [130], 'first window whole (0–100), then the write (30)')
  const second = b.add(entry('b')) // at 130, while nothing is buffered
  const third = b.add(entry('c'))
  await clock.advance(69)
  t.same(written.length, 1, 'the next flush starts 100 after the previous one started (at 200), not before')
  await clock.advance(31)
  await Promise.all([second, third])
  t.same(written.map((w) => w.payloads), [['a'], ['b', 'c']], 'the entries of one window share one write')
  t.same(writtenAt, [130, 230], 'one round trip per interval: flushes started at 100 and 200')
  // After an idle spell longer than the interval, the window is whole again.
  await clock.advance(500)
  const late = b.add(entry('d'))
  await clock.advance(99)
  t.equal(written.length, 2, 'the window after an idle spell is whole')
  await clock.advance(1 + 30)
  await late
  t.same(writtenAt.at(-1), 860, 'added at 730: window 730–830, write 30')
})

/** A batcher whose writes of each partition are scripted: per attempt, how long it takes and whether it fails. */
function scripted (plan: Record<string, Array<{ ms: number, fail?: boolean }>>, opts: { maxBytes?: number } = {}) {
  const clock = manualClock()
  const attempts = new Map<string, number>()
  const written: string[] = []
  const b = new Batcher<string>({
    intervalMs: 10,
    maxBytes: opts.maxBytes ?? 1000,
    maxInFlight: 2,
    retryDelayMs: () => 20,
    clock,
    async write (partition, entries) {
      const n = attempts.get(partition) ?? 0
      attempts.set(partition, n + 1)
      const step = plan[partition][Math.min(n, plan[partition].length - 1)]
      await clock.sleep(step.ms)
      if (step.fail === true) throw new Error(`${partition} failed`)
      written.push(...entries.map((e) => e.payload))
    }
  })
  const request = (...parts: string[]): Array<BatchEntry<string>> => {
    const entries = parts.map((p): BatchEntry<string> => ({ payload: p, rows: 1, bytes: 10, partition: p, retain: false }))
    for (const e of entries) e.siblings = entries
    return entries
  }
  return { b, clock, attempts, written, request }
}

t.test('a request spanning partitions: a sibling that fails before another commits is held, then retried until it lands (never a 503 for stored rows)', async (t) => {
  // b fails at once; a commits 30 ms later. Deciding b at once answered 503 while a was then stored.
  const s = scripted({ a: [{ ms: 30 }], b: [{ ms: 1, fail: true }, { ms: 1, fail: true }, { ms: 1 }] })
  let settled: string | null = null
  const done = s.b.addAll(s.request('a', 'b')).then(() => { settled = 'ok' }, (err: Error) => { settled = err.message })
  await s.clock.advance(20)
  t.equal(settled, null, 'b failed, but a is still being written: the request waits')
  await s.clock.advance(200)
  await done
  t.equal(settled, 'ok', 'the request succeeds: a committed, b retried until it committed')
  t.same([...s.written].sort(), ['a', 'b'], 'each partition stored once')
  t.same(Object.fromEntries(s.attempts), { a: 1, b: 3 })
})

t.test('a request spanning partitions whose every part fails is rejected whole, nothing stored', async (t) => {
  const s = scripted({ a: [{ ms: 30, fail: true }], b: [{ ms: 1, fail: true }] })
  await Promise.all([t.rejects(s.b.addAll(s.request('a', 'b')), { message: /^[ab] failed$/ }), s.clock.advance(100)])
  t.same(s.written, [])
  t.same(Object.fromEntries(s.attempts), { a: 1, b: 1 }, 'nothing retried: the producer got the error')
})

t.test('siblings split over two flushes (maxBytes): the first one fails, the later one commits: the first is retried', async (t) => {
  const s = scripted({ a: [{ ms: 1, fail: true }, { ms: 1 }], b: [{ ms: 5 }] }, { maxBytes: 10 })
  const [ea, eb] = s.request('a', 'b')
  const done = s.b.addAll([ea, eb])
  await s.clock.advance(200)
  await done
  t.same([...s.written].sort(), ['a', 'b'])
  t.same(Object.fromEntries(s.attempts), { a: 2, b: 1 })
})
