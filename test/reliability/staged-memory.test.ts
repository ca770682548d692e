import { test } from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { DuckDBInstance } from '@duckdb/node-api'
import { chunked, makeIpcStream } from '../helpers/arrow.ts'
import { createTopic, startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { postChunks } from '../helpers/post-chunks.ts'

// The outside tester's case: MAX_BUFFERED_BYTES = 64 MiB, 16 clients each POSTing a ~40 MiB
// Arrow stream (durable). Every body is over the large-request threshold (16 MiB), so each is
// staged as its own object. Staging's row-group slabs, encoded groups and storage's parts were not
// counted in the budget (~28 MiB a staged request beside its 16 MiB reservation): the gateway
// peaked at 359-436 MiB RSS (tsx, 2 cores under load, idle ~226 MiB). With them reserved in
// MAX_BUFFERED_BYTES it peaked at 331-386 MiB. Requests that find no room get 503
// QUIVER_OVERLOADED + Retry-After and are retried; every row is stored exactly once; the
// admission's own peak (buffered + staged + bodies, as the gateway counts them) stays within it.

const MiB = 1024 * 1024
const BUDGET = 64 * MiB
const CLIENTS = 16
const ROWS = 1_100_000 // ~41 MiB of the five test columns
// A guard against gross regressions (bodies held whole would be 16 × 41 MiB beyond the idle
// ~230 MiB), not a line between the two versions: on this busy 2-core VM, Node 20, their ranges
// overlap (old 359-436, new 331-386 MiB); Node 22 peaks higher with the same code (454 and 468 MiB
// in a CI rehearsal and its rerun, 479 alone under load).
const RSS_LIMIT = 560 * MiB

function vmHwm (pid: number): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024
}

test('16 concurrent 40 MiB staged bodies under a 64 MiB budget: every row stored once, RSS bounded', { timeout: 240_000 }, async (t) => {
  const gw = await startGateway(t, { MAX_BUFFERED_BYTES: String(BUDGET) })
  await createTopic(gw)
  const writer = localToken(gw.dataDir, ['write'])
  const bodies = Array.from({ length: CLIENTS }, (_, c) => makeIpcStream(ROWS, { start: c * ROWS, batchRows: 10_000 }))
  t.ok(bodies[0].byteLength > 40 * MiB, `bodies of ${(bodies[0].byteLength / MiB).toFixed(1)} MiB`)

  const refusals: string[] = []
  const answers = await Promise.all(bodies.map(async (body) => {
    for (;;) {
      const res = await postChunks(`${gw.url}/v1/topics/events/records`, writer, chunked(body, MiB), { contentType: 'application/vnd.apache.arrow.stream', length: body.byteLength })
      if (res.status !== 503) return { status: res.status, body: JSON.parse(res.body) as unknown, bytes: body.byteLength }
      const err = JSON.parse(res.body) as { code: string }
      refusals.push(`${err.code} retry-after=${String(res.headers['retry-after'])}`)
      // The client's backoff, as the answer asks: not a synchronisation of the test.
      await delay(Number(res.headers['retry-after']) * 1000)
    }
  }))
  t.same(answers, answers.map((a) => ({ status: 200, body: { topic: 'events', rows: ROWS, batches: ROWS / 10_000, bytes: a.bytes, ack: 'durable' }, bytes: a.bytes })), 'every request answered 200 with its rows')
  t.same([...new Set(refusals)].filter((r) => r !== 'QUIVER_OVERLOADED retry-after=1'), [], `${refusals.length} refusals, each 503 QUIVER_OVERLOADED with Retry-After`)

  const admin = localToken(gw.dataDir, ['admin'])
  const stats = await (await fetch(`${gw.url}/v1/admin/stats`, { headers: { authorization: `Bearer ${admin}` } })).json() as { admission: { reservedBytes: number, peakBytes: number } }
  t.equal(stats.admission.reservedBytes, 0, 'no reservation left behind')
  t.ok(stats.admission.peakBytes <= BUDGET, `admission peak ${(stats.admission.peakBytes / MiB).toFixed(1)} MiB within the budget`)

  const hwm = vmHwm(gw.proc.pid!)
  t.comment(`gateway peak RSS ${(hwm / MiB).toFixed(0)} MiB`)
  t.ok(hwm < RSS_LIMIT, `gateway peak RSS ${(hwm / MiB).toFixed(0)} MiB < ${RSS_LIMIT / MiB} MiB`)

  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  const n = CLIENTS * ROWS
  const stored = (await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n, count(DISTINCT id)::BIGINT AS ids, sum(id)::HUGEINT AS s FROM read_parquet('${join(gw.dataDir, 'events/**/*.parquet')}')`)).getRowObjectsJS()[0]
  t.same(stored, { n: BigInt(n), ids: BigInt(n), s: BigInt(n) * BigInt(n - 1) / 2n }, 'exactly the rows sent, once each')
})
