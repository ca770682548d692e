import t from 'tap'
import { request as httpRequest, type ClientRequest } from 'node:http'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.ts'
import { startFaultProxy } from '../helpers/fault-proxy.ts'
import { makeIpcStream, TEST_TOPIC_SCHEMA } from '../helpers/arrow.ts'
import { preparedDataDir } from '../reliability/lib/tokens.ts'
import { readParquetTable } from '../reliability/lib/parquet.ts'
import { waitFor } from '../helpers/wait.ts'

/*
 * MAX_BUFFERED_BYTES is a reservation taken before bytes are read, seen from
 * outside: a real gateway process, s3rver behind the fault proxy with its writes hanging, twelve
 * concurrent 3.4 MiB requests against a 16 MiB cap.
 */
const MiB = 1024 * 1024
const CAP = 16 * MiB
const REQUESTS = 12
const TOPIC = 'admit'

interface Answer { status: number, body: { code?: string }, retryAfter: string | null, at: number }

/** A POST whose body is written by the test, piece by piece; `answer` settles when the gateway answers. */
function open (gw: Gateway, token: string, topic: string, length: number | null) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.apache.arrow.stream' }
  if (length !== null) headers['content-length'] = String(length)
  const req: ClientRequest = httpRequest(`${gw.url}/v1/topics/${topic}/records?ack=accepted`, { method: 'POST', headers })
  let answered: Answer | null = null
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      const parts: Buffer[] = []
      res.on('data', (d: Buffer) => parts.push(d))
      res.on('end', () => {
        answered = { status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString() || '{}'), retryAfter: res.headers['retry-after'] as string ?? null, at: Date.now() }
        resolve(answered)
      })
    })
    // A refused request's connection is closed after the answer: later writes may fail.
    req.on('error', (err) => { if (answered === null) reject(err) })
  })
  answer.catch(() => {})
  return { req, answer, answered: () => answered }
}

async function storedIds (s3: S3rverHandle, topic: string): Promise<number[]> {
  const ids: number[] = []
  for (const key of await s3.listKeys(`${topic}/`)) {
    const table = readParquetTable(await s3.getObject(key))
    for (const id of table.getChild('id')!.toArray() as BigInt64Array) ids.push(Number(id))
  }
  return ids.sort((a, b) => a - b)
}

t.test('12 concurrent 3.4 MiB requests, a 16 MiB cap, storage writes hanging: reserved before read, refused at once, refused rows never stored', async (t) => {
  const s3 = await startS3rver(t)
  const proxy = await startFaultProxy(t, s3.endpoint)
  const { dataDir, token } = preparedDataDir(t)
  const gw = await startGateway(t, { ...s3.env, S3_ENDPOINT: proxy.url, DATA_DIR: dataDir, MAX_BUFFERED_BYTES: String(CAP), FLUSH_INTERVAL_MS: '100', INGEST_CATALOG_TIMEOUT_MS: '1500', ENCODER_THREADS: '1', LOCAL_TOKEN_REVOCATION_POLL_S: '600' })
  const admin = token(['admin'])
  const writer = token(['write'])
  const created = await fetch(`${gw.url}/v1/topics`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: TOPIC, schema: TEST_TOPIC_SCHEMA }) })
  t.equal(created.status, 201)
  const stats = async () => (await (await fetch(`${gw.url}/v1/admin/stats`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { bufferedBytes: number, admission: { reservedBytes: number, peakBytes: number } }

  const perRow = makeIpcStream(10_000).byteLength / 10_000
  const rows = Math.round(3.4 * MiB / perRow)
  const bodies = Array.from({ length: REQUESTS }, (_, i) => makeIpcStream(rows, { start: i * rows }))
  const size = bodies[0].byteLength
  t.comment(`${REQUESTS} requests of ${(size / MiB).toFixed(2)} MiB (${rows} rows) against ${CAP / MiB} MiB`)

  proxy.mode({ stallMethods: ['PUT', 'POST'] })
  // Every request declares its length and sends its first 1 MiB only: a reservation taken before
  // reading answers the ones that do not fit now, while the rest of their bodies is still unsent.
  const started = Date.now()
  const calls = bodies.map((b) => {
    const c = open(gw, writer, TOPIC, b.byteLength)
    c.req.write(b.subarray(0, MiB))
    return c
  })
  const fits = Math.floor(CAP / size)
  await waitFor(() => calls.filter((c) => c.answered() !== null).length >= REQUESTS - fits, `${REQUESTS - fits} refusals`, { timeoutMs: 20_000, everyMs: 20 })
  const refused = calls.filter((c) => c.answered() !== null)
  const overloaded = { statusCode: 503, code: 'QUIVER_OVERLOADED', error: 'Service Unavailable', message: 'The gateway is buffering as much as it may; retry shortly' }
  t.same(refused.map((c) => c.answered()!.body), refused.map(() => overloaded), `${refused.length} refused with 503 QUIVER_OVERLOADED before their bodies were sent`)
  t.ok(refused.every((c) => c.answered()!.retryAfter === '1'), 'each with Retry-After')
  t.comment(`refusals ${Math.max(...refused.map((c) => c.answered()!.at - started))} ms after the requests started`)
  t.equal(refused.length, REQUESTS - fits, `the ${fits} that fit were not refused`)

  // The admitted ones send the rest: they are read, validated and buffered (their flush hangs).
  const admitted = calls.filter((c) => c.answered() === null)
  for (const c of admitted) c.req.end(bodies[calls.indexOf(c)].subarray(MiB))
  const answers = await Promise.all(admitted.map((c) => c.answer))
  t.same(answers.map((a) => a.status), admitted.map(() => 202), 'the admitted requests are accepted')
  for (const c of refused) c.req.destroy()

  let s = await stats()
  t.ok(s.bufferedBytes <= CAP && s.bufferedBytes >= admitted.length * size * 0.9, `buffered ${(s.bufferedBytes / MiB).toFixed(2)} MiB`)
  t.ok(s.admission.peakBytes <= CAP, `peak buffered + reserved ${(s.admission.peakBytes / MiB).toFixed(2)} MiB ≤ ${CAP / MiB} MiB`)
  t.equal(s.admission.reservedBytes, 0, 'no reservation left behind')

  // Chunked bodies (no declared length) are reserved as their chunks arrive: with the buffers
  // holding what they hold, each is refused once it no longer fits, before it was read whole.
  const chunkedCalls = bodies.slice(0, 4).map(() => open(gw, writer, TOPIC, null))
  for (const [i, c] of chunkedCalls.entries()) c.req.write(bodies[i].subarray(0, 3 * MiB))
  const chunkedAnswers = await Promise.all(chunkedCalls.map((c) => c.answer))
  t.same(chunkedAnswers.map((a) => a.body), chunkedAnswers.map(() => overloaded), 'chunked bodies that do not fit: 503 while still being sent')
  for (const c of chunkedCalls) c.req.destroy()
  s = await stats()
  t.ok(s.admission.peakBytes <= CAP, `peak still ${(s.admission.peakBytes / MiB).toFixed(2)} MiB`)
  // The server sees those connections close in its own time: until it has, their reservations
  // hold, and the request below could be refused as overloaded (it was, twice, on a loaded machine).
  await waitFor(async () => (await stats()).admission.reservedBytes === 0, 'the destroyed bodies\' reservations to be freed', { timeoutMs: 20_000, everyMs: 20 })

  // Storage reads hanging too: a topic lookup gives up after INGEST_CATALOG_TIMEOUT_MS and frees
  // its reservation (before, requests stalled on it for as long as storage hung).
  proxy.mode('stall')
  const t0 = Date.now()
  const hung = await fetch(`${gw.url}/v1/topics/never_seen/records`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' }, body: Buffer.from(makeIpcStream(10)) })
  t.equal(hung.status, 503)
  t.same(await hung.json(), {
    statusCode: 503,
    code: 'QUIVER_STORAGE_UNAVAILABLE',
    error: 'Service Unavailable',
    message: 'Storage did not answer the topic lookup within 1500 ms (INGEST_CATALOG_TIMEOUT_MS); the data was not committed, retry shortly'
  }, 'a hanging catalog read answers 503 QUIVER_STORAGE_UNAVAILABLE, naming the wait')
  // Not before the 1500 ms lookup timeout (its timer starts after t0); the upper bound only tells a
  // timeout from a hang on a machine that may be slow.
  const hungFor = Date.now() - t0
  t.ok(hungFor >= 1500 && hungFor < 30_000, `in ${hungFor} ms (timeout 1500)`)
  t.equal((await stats()).admission.reservedBytes, 0, 'and frees its reservation')

  // Storage back: exactly the accepted requests' rows are stored, once; nothing refused is.
  proxy.mode('pass')
  await waitFor(async () => (await stats()).bufferedBytes === 0, 'the buffers to drain', { timeoutMs: 60_000, everyMs: 20 })
  const want = admitted.flatMap((c) => { const i = calls.indexOf(c); return Array.from({ length: rows }, (_, k) => i * rows + k) }).sort((a, b) => a - b)
  const got = await storedIds(s3, TOPIC)
  t.equal(got.length, want.length, `${got.length} rows stored`)
  t.same(got, want, 'exactly the accepted rows, once each')
})
