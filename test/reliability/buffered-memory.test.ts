import { test } from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { DuckDBInstance } from '@duckdb/node-api'
import { chunked, makeIpcStream } from '../helpers/arrow.ts'
import { createTopic, startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { postChunks } from '../helpers/post-chunks.ts'

// The buffered path under concurrency: 16 closed-loop clients each POSTing Arrow streams of 4-15
// MiB (6,800-row record batches of ~270 KiB, durable), every body below the large-request
// threshold (32 MiB here), so each is read whole into reused body buffers and buffered. Those
// buffers came in whole MiB: each ~270 KiB batch took a 1 MiB buffer, and the requests admission
// had let in held ~3.8 × the bytes it had reserved for them. At MAX_BUFFERED_BYTES = 128 MiB the
// gateway's RSS rose 519 MiB above idle on Node 20 and 510 on Node 22 (2 cores under load 7-10);
// with buffers in 64 KiB steps 255 and 256. Requests that find no room get 503 QUIVER_OVERLOADED +
// Retry-After and are sent again; every row is stored exactly once.

const MiB = 1024 * 1024
const BUDGET = 128 * MiB
const CLIENTS = 16
const ROUNDS = 3
const BATCH_ROWS = 6800
/** Rows of the four body sizes (~40 bytes a row: 3.8, 6.9, 10.7 and 15.0 MiB). */
const SIZES = [100_000, 180_000, 280_000, 390_000]
const SPAN = 400_000 // id range of one body
// Growth of RSS over the warmed-up idle gateway: the budget, what the encoder threads and the
// flush take beside it (wasm memory, IPC slabs), garbage waiting for V8's next collection and
// malloc's retained heap. Between the two versions' ranges, on both Node 20 and 22.
const GROWTH_LIMIT = 380 * MiB

function status (pid: number, key: 'VmRSS' | 'VmHWM'): number {
  return Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024
}

test('16 concurrent 4-15 MiB buffered bodies under a 128 MiB budget: every row stored once, RSS bounded', { timeout: 180_000 }, async (t) => {
  const gw = await startGateway(t, { MAX_BUFFERED_BYTES: String(BUDGET) })
  await createTopic(gw)
  const writer = localToken(gw.dataDir, ['write'])
  const url = `${gw.url}/v1/topics/events/records`
  const send = async (body: Uint8Array) => await postChunks(url, writer, chunked(body, MiB), { contentType: 'application/vnd.apache.arrow.stream', length: body.byteLength })

  // Idle, as measured: after one request went all the way (code loaded, encoder threads started).
  const warm = makeIpcStream(BATCH_ROWS, { start: CLIENTS * ROUNDS * SPAN, batchRows: BATCH_ROWS })
  t.equal((await send(warm)).status, 200, 'a warm-up request')
  const idle = status(gw.proc.pid!, 'VmRSS')

  const refusals: string[] = []
  const answers = await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    const out = []
    for (let r = 0; r < ROUNDS; r++) {
      const rows = SIZES[(c + r) % SIZES.length]
      // Made when it is sent: all of them at once would be ~300 MiB in this process.
      const body = makeIpcStream(rows, { start: (c * ROUNDS + r) * SPAN, batchRows: BATCH_ROWS })
      for (;;) {
        const res = await send(body)
        if (res.status === 503) {
          const err = JSON.parse(res.body) as { code: string }
          refusals.push(`${err.code} retry-after=${String(res.headers['retry-after'])}`)
          // The client's backoff, as the answer asks: not a synchronisation of the test.
          await delay(Number(res.headers['retry-after']) * 1000)
          continue
        }
        out.push({ status: res.status, body: JSON.parse(res.body) as unknown, expect: { topic: 'events', rows, batches: Math.ceil(rows / BATCH_ROWS), bytes: body.byteLength, ack: 'durable' } })
        break
      }
    }
    return out
  }))
  const flat = answers.flat()
  t.same(flat.map((a) => ({ status: a.status, body: a.body })), flat.map((a) => ({ status: 200, body: a.expect })), 'every request answered 200 with its rows')
  t.same([...new Set(refusals)].filter((r) => r !== 'QUIVER_OVERLOADED retry-after=1'), [], `${refusals.length} refusals, each 503 QUIVER_OVERLOADED with Retry-After`)

  const hwm = status(gw.proc.pid!, 'VmHWM')
  t.comment(`Node ${process.version}: gateway RSS idle ${(idle / MiB).toFixed(0)} MiB, peak ${(hwm / MiB).toFixed(0)} MiB (+${((hwm - idle) / MiB).toFixed(0)})`)
  t.ok(hwm - idle < GROWTH_LIMIT, `RSS grew ${((hwm - idle) / MiB).toFixed(0)} MiB over idle, < ${GROWTH_LIMIT / MiB} MiB`)

  const admin = localToken(gw.dataDir, ['admin'])
  const stats = await (await fetch(`${gw.url}/v1/admin/stats`, { headers: { authorization: `Bearer ${admin}` } })).json() as { admission: { reservedBytes: number, peakBytes: number } }
  t.equal(stats.admission.reservedBytes, 0, 'no reservation left behind')
  t.ok(stats.admission.peakBytes <= BUDGET, `admission peak ${(stats.admission.peakBytes / MiB).toFixed(1)} MiB within the budget`)

  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  let n = BATCH_ROWS
  let sum = BigInt(CLIENTS * ROUNDS * SPAN) * BigInt(BATCH_ROWS) + BigInt(BATCH_ROWS) * BigInt(BATCH_ROWS - 1) / 2n
  for (let c = 0; c < CLIENTS; c++) {
    for (let r = 0; r < ROUNDS; r++) {
      const rows = SIZES[(c + r) % SIZES.length]
      const start = BigInt((c * ROUNDS + r) * SPAN)
      n += rows
      sum += start * BigInt(rows) + BigInt(rows) * BigInt(rows - 1) / 2n
    }
  }
  const stored = (await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n, count(DISTINCT id)::BIGINT AS ids, sum(id)::HUGEINT AS s FROM read_parquet('${join(gw.dataDir, 'events/**/*.parquet')}')`)).getRowObjectsJS()[0]
  t.same(stored, { n: BigInt(n), ids: BigInt(n), s: sum }, 'exactly the rows sent, once each')
})
