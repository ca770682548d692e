import t from 'tap'
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { TEST_TOPIC_SCHEMA } from '../helpers/arrow.ts'
import { loadOrCreateLocalKeys, LOCAL_ISSUER } from '../../src/auth/local-keys.ts'
import { Rng } from './lib/prng.ts'
import { arrowCase, jsonCase, ndjsonCase, otherCase, seedCorpus, type BodyCase } from './lib/fuzz-bodies.ts'
import { authCase } from './lib/fuzz-tokens.ts'
import { countLocalRows } from './lib/parquet.ts'

/*
 * Hostile input, seeded and bounded. CI: ≥ 5,000 bodies and ≥ 1,000 credentials within ~45 s.
 * QUIVER_LONG_TESTS=1: 10× the cases. QUIVER_FUZZ_SEED replays a run.
 */
const LONG = process.env.QUIVER_LONG_TESTS === '1'
const SEED = Number(process.env.QUIVER_FUZZ_SEED ?? 20240501)
const BODY_CASES = LONG ? 50_000 : 5_000
const AUTH_CASES = LONG ? 10_000 : 1_000
const REQUEST_TIMEOUT_MS = 15_000
const RSS_LIMIT = 1536 * 1024 * 1024
const ERROR_KEYS = ['code', 'error', 'message', 'statusCode']
const BAD_TOKEN_BODY = { statusCode: 401, code: 'QUIVER_UNAUTHORIZED', error: 'Unauthorized', message: 'Missing or invalid bearer token' }

interface Tally { cases: number, byStatus: Record<string, number>, byKind: Record<string, number>, maxRss: number }

async function injectBounded (app: FastifyInstance, opts: InjectOptions): Promise<LightMyRequestResponse> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error('request hung')), REQUEST_TIMEOUT_MS) })
  try {
    return await Promise.race([app.inject(opts), hang])
  } finally {
    clearTimeout(timer)
  }
}

/** A 2xx ingest answer or our JSON error shape with a QUIVER_ code and no 5xx other than 503; returns a failure text or null. */
function judgeIngest (res: LightMyRequestResponse, expectTopic: string): string | null {
  let body: Record<string, unknown>
  try { body = res.json() } catch { return `non-JSON ${res.statusCode} body: ${res.body.slice(0, 200)}` }
  if (res.statusCode === 200 || res.statusCode === 202) {
    const ok = body.topic === expectTopic && Number.isInteger(body.rows) && Number.isInteger(body.batches) && Number.isInteger(body.bytes) &&
      body.ack === (res.statusCode === 200 ? 'durable' : 'accepted') && Object.keys(body).length === 5
    return ok ? null : `bad 2xx body ${res.body.slice(0, 200)}`
  }
  if (res.statusCode >= 500) return `5xx: ${res.statusCode} ${res.body.slice(0, 300)}`
  return judgeError(res, body)
}

function judgeError (res: LightMyRequestResponse, body: Record<string, unknown>): string | null {
  if (res.statusCode < 400) return `unexpected status ${res.statusCode}`
  if (Object.keys(body).sort().join() !== ERROR_KEYS.join()) return `not the error shape: ${res.body.slice(0, 200)}`
  if (body.statusCode !== res.statusCode || typeof body.code !== 'string' || !/^QUIVER_[A-Z_]+$/.test(body.code) || typeof body.message !== 'string' || typeof body.error !== 'string') {
    return `bad error body: ${res.body.slice(0, 200)}`
  }
  return null
}

t.test('fuzz: mutated Arrow/NDJSON/JSON bodies and malformed credentials never get a 5xx, and only acked rows are stored', async (t) => {
  const { app, dataDir } = await buildApp(t, { FLUSH_INTERVAL_MS: '200', MAX_REQUEST_BYTES: String(64 * 1024 * 1024) })
  const writer = localToken(dataDir, ['write'], { subject: 'fuzzer', ttlSeconds: 3600 })
  const admin = localToken(dataDir, ['admin'], { ttlSeconds: 3600 })
  const created = await app.inject({ method: 'POST', url: '/v1/topics', headers: { authorization: `Bearer ${admin}` }, payload: { name: 'fuzz', schema: TEST_TOPIC_SCHEMA } })
  t.equal(created.statusCode, 201)

  const rng = new Rng(SEED)
  const corpus = seedCorpus()
  const tally: Tally = { cases: 0, byStatus: {}, byKind: {}, maxRss: 0 }
  const failures: string[] = []
  const rssTimer = setInterval(() => { tally.maxRss = Math.max(tally.maxRss, process.memoryUsage().rss) }, 100)
  t.teardown(() => clearInterval(rssTimer))
  let ackedRows = 0
  const started = Date.now()

  // Bodies, a few at a time (the gateway serves concurrent producers), a durable ack now and then.
  const CONCURRENCY = 4
  let next = 0
  async function worker (): Promise<void> {
    while (next < BODY_CASES && failures.length < 20) {
      const i = next++
      if (process.env.QUIVER_FUZZ_VERBOSE && i % 250 === 0) process.stderr.write(`fuzz: ${i} bodies, ${Date.now() - started} ms, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB\n`)
      const pick = rng.int(0, 99)
      const c: BodyCase = pick < 55 ? arrowCase(rng, corpus) : pick < 75 ? ndjsonCase(rng) : pick < 95 ? jsonCase(rng) : otherCase(rng)
      const ack = i % 97 === 0 ? 'durable' : 'accepted'
      const headers: Record<string, string> = { authorization: `Bearer ${writer}` }
      if (c.contentType !== undefined) headers['content-type'] = c.contentType
      if (process.env.QUIVER_FUZZ_TRACE) {
        // Replay aid: the last bodies sent, by case number, and the order they were sent in.
        appendFileSync(process.env.QUIVER_FUZZ_TRACE, `${i} ${c.kind} ${c.contentType}\n`)
        writeFileSync(`${process.env.QUIVER_FUZZ_TRACE}.${i % 16}.bin`, c.body)
      }
      let res: LightMyRequestResponse
      try {
        res = await injectBounded(app, { method: 'POST', url: `/v1/topics/fuzz/records?ack=${ack}`, headers, payload: typeof c.body === 'string' ? c.body : Buffer.from(c.body.buffer, c.body.byteOffset, c.body.byteLength) })
      } catch (err) {
        failures.push(`case ${i} (${c.kind}): ${(err as Error).message}`)
        continue
      }
      tally.cases++
      tally.byStatus[res.statusCode] = (tally.byStatus[res.statusCode] ?? 0) + 1
      tally.byKind[`${c.kind} ${res.statusCode}`] = (tally.byKind[`${c.kind} ${res.statusCode}`] ?? 0) + 1
      const bad = judgeIngest(res, 'fuzz')
      if (bad !== null) failures.push(`case ${i} (${c.kind}, seed ${SEED}): ${bad}`)
      else if (res.statusCode < 300) ackedRows += (res.json() as { rows: number }).rows
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  const bodyMs = Date.now() - started

  // Credentials: header forms, forgeries, genuinely signed hostile claims.
  const keys = loadOrCreateLocalKeys(dataDir)
  let authCases = 0
  for (let i = 0; i < AUTH_CASES && failures.length < 20; i++) {
    const c = authCase(rng, keys, LOCAL_ISSUER)
    const headers: Record<string, string> = {}
    if (c.authorization !== undefined) headers.authorization = c.authorization
    const res = await injectBounded(app, { method: 'GET', url: '/v1/whoami', headers })
    authCases++
    tally.byKind[`auth-${c.kind} ${res.statusCode}`] = (tally.byKind[`auth-${c.kind} ${res.statusCode}`] ?? 0) + 1
    const token = c.authorization?.replace(/^\S+\s+/, '') ?? ''
    if (token.length > 20 && res.body.includes(token.slice(-20))) failures.push(`auth ${i} (${c.kind}): token echoed`)
    if (res.statusCode === 401) {
      if (JSON.stringify(res.json()) !== JSON.stringify(BAD_TOKEN_BODY)) failures.push(`auth ${i} (${c.kind}): 401 body ${res.body}`)
      if (res.headers['www-authenticate'] !== 'Bearer error="invalid_token"') failures.push(`auth ${i} (${c.kind}): WWW-Authenticate ${String(res.headers['www-authenticate'])}`)
    } else if (!c.maybeValid || !(res.statusCode === 200 || res.statusCode === 403 || res.statusCode === 431)) {
      failures.push(`auth ${i} (${c.kind}): ${res.statusCode} ${res.body.slice(0, 300)}`)
    } else if (res.statusCode === 200) {
      const who = res.json() as Record<string, unknown>
      if (typeof who.sub !== 'string' || !Array.isArray(who.roles)) failures.push(`auth ${i} (${c.kind}): odd whoami ${res.body.slice(0, 200)}`)
    }
  }
  const totalMs = Date.now() - started

  t.same(failures, [], 'every answer is a 2xx or a QUIVER_ error, never a 5xx or a hang')
  t.ok(tally.cases >= BODY_CASES, `${tally.cases} bodies in ${bodyMs} ms`)
  t.ok(authCases >= AUTH_CASES, `${authCases} credentials`)
  t.ok(tally.maxRss < RSS_LIMIT, `peak RSS ${(tally.maxRss / 2 ** 20).toFixed(0)} MiB`)
  t.comment(`seed ${SEED}: ${tally.cases} bodies + ${authCases} credentials in ${totalMs} ms; statuses ${JSON.stringify(tally.byStatus)}`)
  if (process.env.QUIVER_FUZZ_VERBOSE) t.comment(JSON.stringify(tally.byKind, null, 1))
  t.ok((tally.byStatus['202'] ?? 0) > 100, 'valid bodies were accepted')
  t.ok((tally.byStatus['400'] ?? 0) > 1000, 'broken bodies were refused')

  // Nothing from a refused request was committed: stored rows = sum of acked rows.
  const flushed = await app.inject({ method: 'POST', url: '/v1/admin/flush', headers: { authorization: `Bearer ${admin}` } })
  t.equal(flushed.statusCode, 200)
  const stored = countLocalRows(join(dataDir, 'fuzz'))
  t.equal(stored.rows, ackedRows, `stored ${stored.rows} rows in ${stored.files} files = acked ${ackedRows}`)
})

t.test('regression: a 776-byte mutated schema message (found by this fuzzer, seed 20240501, case 1942) gets a quick 400', async (t) => {
  // At the time of writing this input blocks the event loop inside the Arrow reader for > 30 s
  // (a whole-gateway denial of service from one small request): this test fails until that is fixed.
  const { app, dataDir } = await buildApp(t)
  const writer = localToken(dataDir, ['write'])
  const body = readFileSync(new URL('./fixtures/reader-hang.arrows', import.meta.url))
  const started = Date.now()
  const res = await injectBounded(app, { method: 'POST', url: '/v1/topics/hang/records', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' }, payload: body })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { statusCode: 400, code: 'QUIVER_INVALID_ARROW' })
  // A hang is caught by injectBounded (15 s); this bound says the answer came well before that.
  t.ok(Date.now() - started < 10_000, `answered in ${Date.now() - started} ms`)
})
