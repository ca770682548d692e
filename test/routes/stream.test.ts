import tap, { test } from 'tap'
import type { AddressInfo } from 'node:net'
import type WebSocket from 'ws'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { makeIpcStream } from '../helpers/arrow.ts'
import { startS3rver } from '../helpers/s3rver.ts'
import { closed, connect, frames, localRows, metric, parquetTable, type Refusal } from '../helpers/ws-client.ts'
import { waitFor } from '../helpers/wait.ts'

async function listening (t: Parameters<typeof buildApp>[0], env: Record<string, string> = {}) {
  const built = await buildApp(t, { ENCODER_THREADS: '1', FLUSH_INTERVAL_MS: '50', ...env })
  await built.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = built.app.server.address() as AddressInfo
  const url = (topic: string, query = '') => `ws://127.0.0.1:${port}/v1/topics/${topic}/stream${query}`
  const writer = localToken(built.dataDir, ['write'])
  return { ...built, url, writer }
}

const ids = (rows: Array<Record<string, unknown>>) => rows.map((r) => Number(r.id)).sort((a, b) => a - b)
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i)

// One gateway for the tests that need no special configuration (starting one costs seconds).
const shared = listening(tap)

test('token in header, subprotocol or query; the server answers quiver.v1 only', async (t) => {
  const { url, writer, dataDir } = await shared
  const ways: Array<[string, () => Promise<WebSocket>]> = [
    ['header', () => connect(url('via_header'), ['quiver.v1'], { authorization: `Bearer ${writer}` })],
    ['subprotocol', () => connect(url('via_proto'), ['quiver.v1', `bearer.${writer}`])],
    ['query', () => connect(url('via_query', `?access_token=${writer}`))]
  ]
  for (const [how, open] of ways) {
    const ws = await open()
    t.equal(ws.protocol, 'quiver.v1', `${how}: answered quiver.v1, never the token`)
    const f = frames(ws)
    ws.send(makeIpcStream(5))
    t.same(await f.next(1), [{ type: 'ack', seq: 1, rows: 5 }], `${how}: acked`)
    ws.close()
  }
  t.same(ids(localRows(dataDir, 'via_proto')), range(0, 5), 'rows on storage when the ack arrived')

  await t.rejects(connect(url('nope'), ['other', `bearer.${writer}`]), /no subprotocol/, 'no quiver.v1 offered: no connection')
})

test('401 and 403 are plain HTTP answers before the upgrade', async (t) => {
  const { url, dataDir } = await shared
  const none = await connect(url('t1')).catch((e: Refusal) => e)
  t.equal((none as Refusal).status, 401)
  t.equal((none as Refusal).headers['www-authenticate'], 'Bearer error="invalid_token"')
  t.same((none as Refusal).body, { statusCode: 401, code: 'QUIVER_UNAUTHORIZED', error: 'Unauthorized', message: 'Missing or invalid bearer token' })

  const bad = await connect(url('t1'), ['quiver.v1', 'bearer.not-a-jwt']).catch((e: Refusal) => e)
  t.equal((bad as Refusal).status, 401)

  const reader = localToken(dataDir, ['read'])
  const denied = await connect(url('t1'), ['quiver.v1', `bearer.${reader}`]).catch((e: Refusal) => e)
  t.same((denied as Refusal).body, { statusCode: 403, code: 'QUIVER_FORBIDDEN', error: 'Forbidden', message: 'This operation needs the write role' })
})

test('pipelined messages are acked in order with their rows already in Parquet', async (t) => {
  const { url, writer, dataDir, app } = await shared
  const ws = await connect(url('ordered'), ['quiver.v1', `bearer.${writer}`])
  t.ok(metric((await app.inject('/metrics')).body, 'quiver_websocket_connections{kind="stream"}') >= 1, 'connection gauge')
  const f = frames(ws)
  const sizes = [10, 200, 3, 1000, 7]
  let start = 0
  for (const n of sizes) { ws.send(makeIpcStream(n, { start })); start += n }
  const acks = await f.next(sizes.length)
  t.same(acks, sizes.map((n, i) => ({ type: 'ack', seq: i + 1, rows: n })))
  const rows = localRows(dataDir, 'ordered')
  t.same(ids(rows), range(0, start), 'every acked row is on storage exactly once')
  const row7 = rows.find((r) => Number(r.id) === 7)!
  t.equal(row7.name, 'name-7')
  t.equal(row7.price, 10.5)
  t.equal(row7.ok, false)
  ws.close()
})

test('bad Arrow, schema mismatch and text frames get error frames; the connection carries on', async (t) => {
  const { url, writer, dataDir } = await shared
  const ws = await connect(url('errs'), ['quiver.v1', `bearer.${writer}`])
  const f = frames(ws)
  ws.send(makeIpcStream(4))
  ws.send(Buffer.from('definitely not arrow, just some bytes'))
  ws.send(makeIpcStream([{ other: 1 }], [{ name: 'other', type: 'int64', nullable: true }]))
  ws.send('{"hello":"world"}')
  ws.send(makeIpcStream(6, { start: 4 }))
  const got = await f.next(5)
  t.same(got[0], { type: 'ack', seq: 1, rows: 4 })
  t.match(got[1], { type: 'error', seq: 2, code: 'QUIVER_INVALID_ARROW', message: /^Invalid Arrow IPC data: / })
  t.match(got[2], { type: 'error', seq: 3, code: 'QUIVER_SCHEMA_MISMATCH', message: /other/ })
  t.same(got[3], { type: 'error', seq: 0, code: 'QUIVER_TEXT_FRAME', message: 'Text frames are not accepted: send each Arrow IPC stream as one binary message' }, 'a text frame takes no sequence number')
  t.same(got[4], { type: 'ack', seq: 4, rows: 6 })
  t.same(ids(localRows(dataDir, 'errs')), range(0, 10), 'only the good messages were stored')
  ws.close()
})

test('an oversize message closes with 1009', async (t) => {
  const { url, writer } = await listening(t, { WS_MAX_MESSAGE_BYTES: '4096' })
  const ws = await connect(url('big'), ['quiver.v1', `bearer.${writer}`])
  const done = closed(ws)
  ws.send(Buffer.alloc(10_000, 1))
  t.equal((await done).code, 1009)
})

test('token expiry: what was accepted is acked, then close 1008', async (t) => {
  const { url, dataDir } = await shared
  const shortLived = localToken(dataDir, ['write'], { ttlSeconds: 2 })
  const ws = await connect(url('expiring'), ['quiver.v1', `bearer.${shortLived}`])
  const f = frames(ws)
  const done = closed(ws)
  ws.send(makeIpcStream(3))
  t.same(await f.next(1), [{ type: 'ack', seq: 1, rows: 3 }])
  const { code, reason } = await done
  t.equal(code, 1008)
  t.equal(reason, 'token expired')
  t.same(ids(localRows(dataDir, 'expiring')), range(0, 3))
})

test('server shutdown acks in-flight messages, then closes with 1001', async (t) => {
  const { url, writer, dataDir, app } = await listening(t, { FLUSH_INTERVAL_MS: '60000' })
  const gauge = async () => metric((await app.inject('/metrics')).body, 'quiver_websocket_connections{kind="stream"}')
  const ws = await connect(url('shutdown'), ['quiver.v1', `bearer.${writer}`])
  const f = frames(ws)
  const done = closed(ws)
  t.equal(await gauge(), 1, 'connection gauge')
  ws.send(makeIpcStream(8))
  await waitFor(() => app.pipeline.stats().topics.shutdown?.bufferedRows === 8, 'the 8 rows to be buffered')
  t.same(f.got, [], 'not durable yet: the flush interval is a minute')
  await app.close()
  t.same(f.got, [{ type: 'ack', seq: 1, rows: 8 }], 'acked before the close')
  t.equal((await done).code, 1001)
  t.same(ids(localRows(dataDir, 'shutdown')), range(0, 8))
})

test('backpressure: full buffers pause the socket, every message is acked in the end', async (t) => {
  const { url, writer, dataDir, app } = await listening(t, { MAX_BUFFERED_BYTES: '20000', FLUSH_INTERVAL_MS: '100', WS_MAX_INFLIGHT: '64' })
  const ws = await connect(url('pressure'), ['quiver.v1', `bearer.${writer}`])
  const f = frames(ws)
  const n = 20
  for (let i = 0; i < n; i++) ws.send(makeIpcStream(200, { start: i * 200 }))
  const got = await f.next(n, 40_000)
  const pauses = metric((await app.inject('/metrics')).body, 'quiver_websocket_pauses_total')
  t.ok(pauses > 0, `the server stopped reading the socket while buffers were full (${pauses} times)`)
  t.same(got, range(1, n).map((seq) => ({ type: 'ack', seq, rows: 200 })), 'all acked, in order, none failed')
  t.same(ids(localRows(dataDir, 'pressure')), range(0, n * 200), 'no row lost or duplicated')
  ws.close()
})

test('acks mean the rows are in S3 (s3rver)', async (t) => {
  const s3 = await startS3rver(t)
  // The AWS SDK takes credentials from the process environment, not from the gateway's config.
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY }
  process.env.AWS_ACCESS_KEY_ID = s3.env.AWS_ACCESS_KEY_ID
  process.env.AWS_SECRET_ACCESS_KEY = s3.env.AWS_SECRET_ACCESS_KEY
  t.teardown(() => {
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID
    else process.env.AWS_ACCESS_KEY_ID = saved.id
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY
    else process.env.AWS_SECRET_ACCESS_KEY = saved.secret
  })
  const { url, writer } = await listening(t, s3.env)
  const ws = await connect(url('on_s3'), ['quiver.v1', `bearer.${writer}`])
  const f = frames(ws)
  ws.send(makeIpcStream(50))
  ws.send(makeIpcStream(25, { start: 50 }))
  t.same(await f.next(2), [{ type: 'ack', seq: 1, rows: 50 }, { type: 'ack', seq: 2, rows: 25 }])
  const keys = (await s3.listKeys('on_s3/')).filter((k) => k.endsWith('.parquet'))
  t.match(keys[0], /^on_s3\/year=\d{4}\/month=\d\d\/day=\d\d\/hour=\d\d\/[^/]+\.parquet$/)
  const rows = (await Promise.all(keys.map(async (k) => parquetTable(await s3.getObject(k)).toArray().map((r) => r.toJSON())))).flat()
  t.same(ids(rows), range(0, 75))
  ws.close()
})
