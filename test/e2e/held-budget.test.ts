import { test } from 'tap'
import { request } from 'node:http'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { chunked, ipcMessages, makeIpcStream } from '../helpers/arrow.ts'
import { createTopic, startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { postChunks } from '../helpers/post-chunks.ts'
import { waitFor } from '../helpers/wait.ts'

// What a request holds in memory whole counts against MAX_BUFFERED_BYTES like any buffered
// byte (CONTRACT: buffered + staged + bodies being parsed never exceed it under any concurrency):
// a record batch is decoded whole, and a request to a partitioned topic is split by partition in
// memory. Both were reserved only up to the staging threshold before, so two such requests at
// once (or one huge batch) held several times the budget. What cannot fit even alone is a 413.

const MiB = 1024 * 1024
const BUDGET = 8 * MiB // staging threshold: min(FLUSH_MAX_BYTES, BUDGET / 4) = 2 MiB
const post = (url: string, token: string, chunks: Iterable<Uint8Array>) =>
  postChunks(url, token, chunks, { contentType: 'application/vnd.apache.arrow.stream' })

function files (dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile() && f.endsWith('.parquet'))
  } catch { return [] }
}

async function count (t: { teardown: (fn: () => void) => void }, glob: string): Promise<unknown> {
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  return (await conn.runAndReadAll(`SELECT count(*)::INT AS n, count(DISTINCT id)::INT AS ids FROM read_parquet('${glob}')`)).getRowObjectsJS()[0]
}

test('a record batch larger than MAX_BUFFERED_BYTES is a 413 naming it; the same rows in smaller batches are stored', async (t) => {
  const gw = await startGateway(t, { MAX_BUFFERED_BYTES: String(BUDGET) })
  await createTopic(gw)
  const writer = localToken(gw.dataDir, ['write'])
  const rows = 300_000
  const one = makeIpcStream(rows, { batchRows: rows })
  const [, batch] = ipcMessages(one)
  const bodyBytes = batch.end - batch.meta - batch.metaLen
  t.ok(bodyBytes > BUDGET, `one record batch of ${(bodyBytes / MiB).toFixed(1)} MiB`)
  const refused = await post(`${gw.url}/v1/topics/events/records`, writer, chunked(one, 64 * 1024))
  t.equal(refused.status, 413)
  t.same(JSON.parse(refused.body), {
    statusCode: 413,
    code: 'QUIVER_PAYLOAD_TOO_LARGE',
    error: 'Payload Too Large',
    message: `A record batch of ${bodyBytes} bytes is held in memory whole, and it exceeds MAX_BUFFERED_BYTES (${BUDGET} bytes): send it in smaller requests or record batches`
  })
  t.same(files(join(gw.dataDir, 'events')), [], 'nothing stored')

  const split = makeIpcStream(rows, { batchRows: 30_000 })
  const stored = await post(`${gw.url}/v1/topics/events/records`, writer, chunked(split, 64 * 1024))
  t.equal(stored.status, 200, stored.body)
  t.same(await count(t, join(gw.dataDir, 'events/**/*.parquet')), { n: rows, ids: rows })
})

test('requests to a partitioned topic reserve every byte they hold: a second one beside the first is 503, one over the budget alone 413', async (t) => {
  const gw = await startGateway(t, { MAX_BUFFERED_BYTES: String(BUDGET) })
  const admin = localToken(gw.dataDir, ['admin'])
  const made = await fetch(`${gw.url}/v1/topics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'days', schema: { fields: [{ name: 'id', type: 'int64', nullable: false }, { name: 'name', type: 'string', nullable: true }, { name: 'price', type: 'double', nullable: true }, { name: 'ts', type: 'timestamp[us, tz=UTC]', nullable: false }, { name: 'ok', type: 'bool', nullable: true }] }, timePartition: { field: 'ts', granularity: 'day' } })
  })
  t.equal(made.status, 201, await made.text())
  const writer = localToken(gw.dataDir, ['write'])
  const url = `${gw.url}/v1/topics/days/records`

  // 5 MiB in 10 batches: over the 2 MiB threshold, within the 8 MiB budget alone.
  const five = makeIpcStream(150_000, { batchRows: 15_000 })
  t.ok(five.byteLength > 4.5 * MiB && five.byteLength < 6 * MiB, `a ${(five.byteLength / MiB).toFixed(1)} MiB body`)
  // The first request sends all but its last 64 KiB and waits: it holds ~5 MiB meanwhile.
  let finish!: () => void
  const gate = new Promise<void>((resolve) => { finish = resolve })
  let sent = 0
  const first = new Promise<{ status: number, body: string }>((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode!, body }))
    })
    req.on('error', reject)
    const cut = five.byteLength - 64 * 1024
    req.write(five.subarray(0, cut), () => { sent = cut })
    gate.then(() => req.end(five.subarray(cut)), () => {})
  })
  // Its bytes are reserved as they arrive: wait until the gateway counts them.
  const admission = async (): Promise<{ reservedBytes: number, peakBytes: number }> =>
    (await (await fetch(`${gw.url}/v1/admin/stats`, { headers: { authorization: `Bearer ${admin}` } })).json()).admission
  await waitFor(async () => sent > 0 && (await admission()).reservedBytes >= 4 * MiB, 'the first request\'s bytes reserved as they arrived', { timeoutMs: 20_000, everyMs: 10 })
  const second = await post(url, writer, chunked(five, 64 * 1024))
  t.equal(second.status, 503, 'the second does not fit beside the first')
  t.same(JSON.parse(second.body), { statusCode: 503, code: 'QUIVER_OVERLOADED', error: 'Service Unavailable', message: 'The gateway is buffering as much as it may; retry shortly' })
  t.equal(second.headers['retry-after'], '1')
  finish()
  const answer = await first
  t.equal(answer.status, 200, answer.body)

  const ten = makeIpcStream(300_000, { batchRows: 15_000 })
  const alone = await post(url, writer, chunked(ten, 64 * 1024))
  t.equal(alone.status, 413)
  t.same(JSON.parse(alone.body), {
    statusCode: 413,
    code: 'QUIVER_PAYLOAD_TOO_LARGE',
    error: 'Payload Too Large',
    message: `A request to partitioned topic "days" is held in memory whole, and it exceeds MAX_BUFFERED_BYTES (${BUDGET} bytes): send it in smaller requests or record batches`
  })
  // Announced, the same body is refused before it is read: only its first 64 KiB are ever sent.
  const early = await new Promise<{ status: number, body: string }>((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream', 'content-length': ten.byteLength } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => { resolve({ status: res.statusCode!, body }); req.destroy() })
    })
    req.on('error', (err) => { if (!(err as NodeJS.ErrnoException).code?.startsWith('ECONN') && (err as NodeJS.ErrnoException).code !== 'EPIPE') reject(err) })
    req.write(ten.subarray(0, 64 * 1024))
  })
  t.equal(early.status, 413)
  t.equal(JSON.parse(early.body).message, JSON.parse(alone.body).message, 'the same answer, with 64 KiB of the body sent')
  t.equal((await fetch(`${gw.url}/v1/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } })).status, 200)
  t.same(await count(t, join(gw.dataDir, 'days/**/*.parquet')), { n: 150_000, ids: 150_000 }, 'only the first request\'s rows')
  const peak = (await admission()).peakBytes
  t.ok(peak <= BUDGET, `buffered + reserved peaked at ${peak} bytes, within the budget`)
})
