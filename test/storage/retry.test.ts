import t from 'tap'
import { withRetry, isRetryable, backoffDelay } from '../../src/storage/retry.ts'
import type { Storage } from '../../src/storage/types.ts'
import { waitFor } from '../helpers/wait.ts'

const s3Error = (name: string, status?: number) => Object.assign(new Error(name), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) })
const netError = (code: string) => Object.assign(new Error(code), { code })

t.test('classification: network, 5xx, throttling retry; 4xx does not', async (t) => {
  for (const e of [s3Error('SlowDown', 503), s3Error('InternalError', 500), s3Error('Whatever', 502), s3Error('Throttling', 400),
    s3Error('TooManyRequests', 429), netError('ECONNRESET'), netError('ECONNREFUSED'), netError('UND_ERR_SOCKET'),
    s3Error('TimeoutError'), new Error('wrapped', { cause: netError('ETIMEDOUT') })]) {
    t.ok(isRetryable(e), `${e.name} ${(e as { code?: string }).code ?? ''}`)
  }
  for (const e of [s3Error('AccessDenied', 403), s3Error('NoSuchBucket', 404), s3Error('InvalidRequest', 400), new Error('plain'),
    netError('ENOSPC'), netError('EACCES'), null, 'string']) {
    t.notOk(isRetryable(e), String((e as Error)?.name ?? e))
  }
})

t.test('full jitter stays within [0, min(cap, base*2^(n-1))]', async (t) => {
  t.equal(backoffDelay(1, 100, 2000, () => 0.999999), 99)
  t.equal(backoffDelay(3, 100, 2000, () => 0.5), 200)
  t.equal(backoffDelay(10, 100, 2000, () => 0.999999), 1999, 'capped')
  t.equal(backoffDelay(4, 100, 2000, () => 0), 0)
})

/** A fake Storage whose put fails with the queued errors (this is a fake, not S3). */
function fake (failures: unknown[]) {
  const calls: string[] = []
  const s: Storage = {
    kind: 'fs',
    location: 'fake',
    async put (key) { calls.push(key); const f = failures.shift(); if (f) throw f },
    async putStream () { calls.push('stream'); throw netError('ECONNRESET') },
    async createExclusive () { return true },
    async get () { const f = failures.shift(); if (f) throw f; return new Uint8Array([1]) },
    async getRange () { return new Uint8Array([1]) },
    async * list () { const f = failures.shift(); if (f) throw f; yield { key: 'a', bytes: 1, lastModified: new Date(0) }; yield { key: 'b', bytes: 1, lastModified: new Date(0) } },
    async delete () {},
    async check () { const f = failures.shift(); if (f) throw f },
    async close () {}
  }
  return { s, calls }
}

t.test('retries transient errors with growing delays, counts each failed try', async (t) => {
  const { s, calls } = fake([s3Error('SlowDown', 503), netError('ECONNRESET'), s3Error('InternalError', 500)])
  const delays: number[] = []
  const errors: Array<{ attempt: number, willRetry: boolean }> = []
  const r = withRetry(s, { random: () => 0.999999, sleep: async (ms) => { delays.push(ms) }, onError: (_e, i) => errors.push(i) })
  await r.put('k', new Uint8Array([1]))
  t.same(calls, ['k', 'k', 'k', 'k'])
  t.same(delays, [99, 199, 399])
  t.same(errors.map((e) => [e.attempt, e.willRetry]), [[1, true], [2, true], [3, true]])
  t.equal(r.healthy, true)
})

t.test('gives up after the attempt budget, flips health, recovers on next success', async (t) => {
  const { s, calls } = fake(Array.from({ length: 5 }, () => s3Error('SlowDown', 503)))
  let counted = 0
  const r = withRetry(s, { sleep: async () => {}, onError: () => { counted++ } })
  await t.rejects(r.put('k', new Uint8Array()), { name: 'SlowDown' })
  t.equal(calls.length, 5)
  t.equal(counted, 5)
  t.equal(r.healthy, false)
  await r.put('k', new Uint8Array())
  t.equal(r.healthy, true)
})

t.test('4xx fails at once; the time budget bounds retries', async (t) => {
  const { s, calls } = fake([s3Error('AccessDenied', 403)])
  const r = withRetry(s, { sleep: async () => {} })
  await t.rejects(r.put('k', new Uint8Array()), { name: 'AccessDenied' })
  t.equal(calls.length, 1)
  t.equal(r.healthy, false)

  // The budget is read from the `now` clock: moved only by the sleeps here, so a busy machine
  // (time passing between two tries) cannot change how many tries fit.
  const slow = fake(Array.from({ length: 5 }, () => netError('ECONNRESET')))
  const slept: number[] = []
  let clock = 0
  const r2 = withRetry(slow.s, { baseMs: 400, capMs: 1000, maxElapsedMs: 500, random: () => 0.999999, now: () => clock, sleep: async (ms) => { slept.push(ms); clock += ms } })
  await t.rejects(r2.put('k', new Uint8Array()), { code: 'ECONNRESET' })
  t.equal(slow.calls.length, 2, 'second delay (799 ms) would pass the 500 ms budget')
  t.same(slept, [399], 'one backoff (399 ms), then it gave up instead of sleeping past the budget')
})

t.test('putStream is tried once; list retries before its first entry; check sets health', async (t) => {
  const { s, calls } = fake([netError('ECONNRESET'), s3Error('InternalError', 500)])
  const r = withRetry(s, { sleep: async () => {} })
  const keys: string[] = []
  for await (const o of r.list('')) keys.push(o.key)
  t.same(keys, ['a', 'b'])
  await t.rejects(r.putStream('k', (async function * () {})()), { code: 'ECONNRESET' })
  t.same(calls, ['stream'])
  t.equal(r.healthy, false)
  await r.check()
  t.equal(r.healthy, true)
  const failing = fake([netError('ECONNREFUSED')])
  const r3 = withRetry(failing.s)
  await t.rejects(r3.check(), { code: 'ECONNREFUSED' })
  t.equal(r3.healthy, false, 'one failed check, no retries, marks unhealthy')
  t.equal(r3.kind, 'fs')
  t.equal(r3.location, 'fake')
})

t.test('against s3rver behind a fault proxy (real network faults)', async (t) => {
  const { startS3rver } = await import('../helpers/s3rver.ts')
  const { startFaultProxy } = await import('../helpers/fault-proxy.ts')
  const { createS3Storage } = await import('../../src/storage/s3.ts')
  const s3 = await startS3rver(t)
  const proxy = await startFaultProxy(t, s3.endpoint)
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER'
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER'
  const inner = createS3Storage({ bucket: s3.bucket, endpoint: proxy.url, forcePathStyle: true, staleUploadMs: 0, requestTimeoutMs: 400 })
  t.teardown(() => inner.close())
  let failedTries = 0
  const r = withRetry(inner, { baseMs: 20, capMs: 100, onError: () => { failedTries++ } })
  const puts = () => proxy.requests.filter((q) => q.method === 'PUT').length
  const body = new TextEncoder().encode('payload')

  for (const mode of ['slowdown', 'reset', 'refuse', { status: 500 }] as const) {
    proxy.mode(mode)
    proxy.reset()
    failedTries = 0
    await t.rejects(r.put('x/fail.bin', body), JSON.stringify(mode))
    t.equal(failedTries, 5, `${JSON.stringify(mode)}: every try counted`)
    if (mode !== 'refuse') t.equal(puts(), 5, `${JSON.stringify(mode)}: five tries reached the server`)
    t.equal(r.healthy, false)
  }

  proxy.mode('stall')
  proxy.reset()
  const t0 = performance.now()
  const stalled = withRetry(inner, { attempts: 2, baseMs: 10, capMs: 10 })
  await t.rejects(stalled.put('x/stall.bin', body), 'a stalled connection times out instead of hanging')
  const gaveUpAfter = performance.now() - t0
  t.equal(puts(), 2, 'both tries reached the server')
  // Each try waits out its 400 ms request timeout; the upper bound only tells a timeout from a hang.
  t.ok(gaveUpAfter >= 2 * 400 && gaveUpAfter < 30_000, `gave up after ${gaveUpAfter.toFixed(0)} ms (two tries of 400 ms)`)

  proxy.mode({ status: 403, body: '<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>no</Message></Error>' })
  proxy.reset()
  await t.rejects(r.put('x/denied.bin', body), { name: 'AccessDenied' })
  t.equal(puts(), 1, 'AccessDenied is not retried')

  // The fault ends once the first try has met it (not after a guessed 60 ms, which a slow machine
  // may spend before sending anything). Fixed jitter: the next try is 19 ms away, later than the
  // next check of the condition, so the retry is what meets the recovered server.
  proxy.mode('slowdown')
  proxy.reset()
  const recovering = withRetry(inner, { baseMs: 20, capMs: 100, random: () => 0.999999 })
  const ok = recovering.put('x/ok.bin', body)
  await waitFor(() => puts() >= 1, 'the first try to meet the fault', { everyMs: 1 })
  proxy.mode('pass')
  await ok
  t.equal(puts(), 2, 'recovered on the second try')
  t.equal(recovering.healthy, true)
  t.same(await s3.getObject('x/ok.bin'), body)
  t.same(await s3.listKeys('x/'), ['x/ok.bin'], 'failed writes left nothing')
})
