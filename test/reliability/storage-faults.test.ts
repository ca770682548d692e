import t from 'tap'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.ts'
import type { FaultMode } from '../helpers/fault-proxy.ts'
import { faultedGateway, STORAGE_DOWN } from './lib/faulted-gateway.ts'
import { makeIpcStream, TEST_TOPIC_SCHEMA } from '../helpers/arrow.ts'
import { preparedDataDir } from './lib/tokens.ts'
import { readParquetTable } from './lib/parquet.ts'
import { waitFor } from '../helpers/wait.ts'

/*
 * Real network faults between a real gateway process and a real s3rver: the fault proxy refuses,
 * resets, stalls, or answers 500 / 503 / SlowDown. Writes are retried; requests whose flush finally
 * fails get 503 and their rows are never committed; /readyz follows storage health; nothing
 * acknowledged is lost; buffers are bounded by MAX_BUFFERED_BYTES.
 */
const ROWS = 20
const OVERLOADED = { statusCode: 503, code: 'QUIVER_OVERLOADED', error: 'Service Unavailable', message: 'The gateway is buffering as much as it may; retry shortly' }

interface Sent { start: number, status: number, body: unknown, retryAfter: string | null }

function client (gw: Gateway, token: string, topic: string) {
  let next = 0
  const sent: Sent[] = []
  return {
    sent,
    async post (ack: 'durable' | 'accepted' = 'durable'): Promise<Sent> {
      const start = next
      next += ROWS
      const res = await fetch(`${gw.url}/v1/topics/${topic}/records?ack=${ack}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.apache.arrow.stream' },
        body: Buffer.from(makeIpcStream(ROWS, { start })),
        // A durable ack waits for a flush (and its retries); past this, call it a hang.
        signal: AbortSignal.timeout(45_000)
      })
      const s = { start, status: res.status, body: await res.json(), retryAfter: res.headers.get('retry-after') }
      sent.push(s)
      return s
    }
  }
}

async function storedIds (s3: S3rverHandle, topic: string): Promise<Map<number, number>> {
  const seen = new Map<number, number>()
  for (const key of await s3.listKeys(`${topic}/`)) {
    const table = readParquetTable(await s3.getObject(key))
    for (const id of table.getChild('id')!.toArray() as BigInt64Array) seen.set(Number(id), (seen.get(Number(id)) ?? 0) + 1)
  }
  return seen
}

/** Acked requests (200/202) are stored exactly once; refused ones (503) not at all. */
function account (t: { same: (a: unknown, b: unknown, m: string) => unknown }, sent: Sent[], seen: Map<number, number>): void {
  const wrong: string[] = []
  let acked = 0
  for (const s of sent) {
    const want = s.status === 200 || s.status === 202 ? 1 : 0
    if (want) acked += ROWS
    for (let id = s.start; id < s.start + ROWS; id++) {
      if ((seen.get(id) ?? 0) !== want) { wrong.push(`request at ${s.start} (${s.status}): id ${id} stored ${seen.get(id) ?? 0}×`); break }
    }
  }
  t.same(wrong, [], `${acked} acked rows stored exactly once, nothing of a refused request stored`)
}

async function readyz (gw: Gateway): Promise<number> {
  return (await fetch(`${gw.url}/readyz`)).status
}

t.test('storage faults: retried with backoff, 503 when a flush finally fails, /readyz follows, nothing acked lost', async (t) => {
  const { s3, proxy, gw, token, admin } = await faultedGateway(t, 'faults')
  const c = client(gw, token(['write']), 'faults')
  t.equal((await c.post()).status, 200, 'healthy storage: durable ack')

  // Short faults (300 ms): every storage call (catalog read, object write) is retried with backoff
  // through them. A request ends in its durable ack, or in 503 if the retry budget ran out first;
  // never a hang, never a 500.
  const transient: FaultMode[] = ['refuse', 'reset', { status: 500, body: '<Error><Code>InternalError</Code></Error>' }, { status: 503, body: '<Error><Code>ServiceUnavailable</Code></Error>' }, 'slowdown', 'stall']
  const outcomes: string[] = []
  for (const mode of transient) {
    const name = typeof mode === 'object' ? String(mode.status) : mode
    // Kept on purpose: the gateway's catalog cache (2 s, not configurable) must lapse so the fault
    // may hit its read too; nothing outside the process shows when it has.
    await new Promise((resolve) => setTimeout(resolve, 2100))
    proxy.reset()
    proxy.mode(mode)
    let settled = false
    const pending = c.post().finally(() => { settled = true })
    const tries = () => {
      const perPath = new Map<string, number>()
      for (const r of proxy.requests) perPath.set(`${r.method} ${r.path}`, (perPath.get(`${r.method} ${r.path}`) ?? 0) + 1)
      return Math.max(0, ...perPath.values())
    }
    // The fault lasts until the gateway has met it and, where the fault answers at once, tried the
    // same call again (or gave up): its retries are what is tested, however slow this machine is.
    // A stalled call is released (reset) when the fault ends; a refused connection carries no request.
    const met = mode === 'stall' ? () => proxy.requests.length >= 1 : mode === 'refuse' ? () => proxy.refusedConnections() >= 2 : () => tries() >= 2
    await waitFor(() => settled || met(), `${name}: the gateway to meet the fault`, { timeoutMs: 60_000, everyMs: 5 })
    const during = proxy.requests.slice()
    const retried = tries()
    const refused = proxy.refusedConnections()
    proxy.mode('pass')
    const res = await pending
    if (res.status !== 200) t.same(res.body, STORAGE_DOWN, `${name}: a failed flush answers 503`)
    if (mode === 'refuse') t.ok(refused >= 2, `${name}: connections tried again after being refused (${refused})`)
    else if (mode !== 'stall') t.ok(retried >= 2, `${name}: the failing call was retried (${retried} tries of one request)`)
    outcomes.push(`${name}: ${res.status} after ${mode === 'refuse' ? refused : during.length} faulted calls`)
  }
  t.comment(outcomes.join('; '))
  t.equal((await c.post()).status, 200, 'durable acks after the faults')

  // A lasting outage: durable requests get 503 (nothing of theirs committed), accepted ones are kept and retried.
  proxy.mode('refuse')
  const started = Date.now()
  const down = await c.post()
  t.same(down.body, STORAGE_DOWN)
  t.equal(down.status, 503)
  t.ok(Number(down.retryAfter) >= 1, `Retry-After ${down.retryAfter}`)
  t.comment(`a durable request failed after ${Date.now() - started} ms of retries`)
  const kept = await c.post('accepted')
  t.comment(`ack=accepted while storage is down: ${kept.status} ${JSON.stringify(kept.body)}`)
  t.ok(kept.status === 202 || (kept.status === 503 && (kept.body as { code: string }).code === 'QUIVER_STORAGE_UNAVAILABLE'), 'accepted (kept and retried) or refused up front')
  await waitFor(async () => await readyz(gw) === 503, '/readyz to turn 503 while storage fails', { timeoutMs: 15_000, everyMs: 100 })
  t.pass('/readyz turned 503 while storage fails')
  const body = await (await fetch(`${gw.url}/readyz`)).json() as { checks?: Record<string, string> }
  t.notMatch(JSON.stringify(body), /127\.0\.0\.1|:\d{4,5}/, '/readyz names no hosts or ports')

  proxy.mode('pass')
  const back = Date.now()
  await waitFor(async () => await readyz(gw) === 200, '/readyz back to 200', { timeoutMs: 30_000, everyMs: 50 })
  const recoveredAfter = Date.now() - back
  // Its answer is cached 500 ms, then one storage check runs: about a second, unless the machine is
  // slow; the bound tells that apart from a probe that backs off or waits for traffic.
  t.ok(recoveredAfter <= 5000, `/readyz back to 200 ${recoveredAfter} ms after recovery`)
  t.comment('storage back')
  const again = Date.now()
  const after = await c.post().catch((err: Error) => ({ status: 0, body: err.name }))
  t.equal(after.status, 200, `durable acks again (answered in ${Date.now() - again} ms)`)

  // Everything acked is there once; the refused request's rows are not.
  const flush = await fetch(`${gw.url}/v1/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } })
  t.equal(flush.status, 200)
  account(t, c.sent, await storedIds(s3, 'faults'))
})

t.test('bounded memory: over MAX_BUFFERED_BYTES → 503 QUIVER_OVERLOADED with Retry-After; what was accepted is committed', async (t) => {
  const s3 = await startS3rver(t)
  const { dataDir, token } = preparedDataDir(t)
  // Flushes a minute apart: the buffer can only grow until the cap.
  const gw = await startGateway(t, { ...s3.env, DATA_DIR: dataDir, FLUSH_INTERVAL_MS: '60000', MAX_BUFFERED_BYTES: String(64 * 1024) }, { timeoutMs: 60_000 })
  const admin = token(['admin'])
  t.equal((await fetch(`${gw.url}/v1/topics`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bounded', schema: TEST_TOPIC_SCHEMA }) })).status, 201)
  const c = client(gw, token(['write']), 'bounded')
  let overloaded: Sent | undefined
  for (let i = 0; i < 400 && overloaded === undefined; i++) {
    const s = await c.post('accepted')
    if (s.status === 503) overloaded = s
    else if (s.status !== 202) t.fail(`unexpected ${s.status} ${JSON.stringify(s.body)}`)
  }
  t.ok(overloaded, `refused after ${c.sent.length - 1} buffered requests`)
  t.same(overloaded?.body, OVERLOADED)
  t.ok(Number(overloaded?.retryAfter) >= 1, 'with Retry-After')
  const gauge = (await (await fetch(`${gw.url}/metrics`)).text()).match(/^quiver_buffered_bytes (\d+)/m)
  t.ok(gauge && Number(gauge[1]) <= 64 * 1024 * 2, `buffered bytes gauge ${gauge?.[1]} stays near the 64 KiB cap`)

  const flush = await fetch(`${gw.url}/v1/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } })
  t.equal(flush.status, 200)
  t.equal((await c.post('accepted')).status, 202, 'accepting again once flushed')
  const flush2 = await fetch(`${gw.url}/v1/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } })
  t.equal(flush2.status, 200)
  account(t, c.sent, await storedIds(s3, 'bounded'))
})
