import { test } from 'tap'
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.ts'
import { startFaultProxy } from '../helpers/fault-proxy.ts'
import { localToken } from '../helpers/local-auth.ts'
import { makeIpcStream } from '../helpers/arrow.ts'
import type { FieldSpec } from '../../src/schema/topic-schema.ts'
import type WebSocket from 'ws'
import { waitFor } from '../helpers/wait.ts'
import { connect, frames, metric, parquetTable } from '../helpers/ws-client.ts'

/*
 * Slow storage pushes back on a WebSocket producer through TCP: object uploads stall (fault proxy),
 * the topic buffers fill up to MAX_BUFFERED_BYTES, the gateway stops reading the socket, and the
 * client's writes back up. When storage answers again every message is acked in order and every
 * row is in S3 exactly once: nothing dropped, nothing refused.
 */
const TOPIC = 'slow_store'
// Wide rows: many bytes (to outgrow the cap and the kernel's socket buffers) for few rows to encode.
const FIELDS: FieldSpec[] = [{ name: 'id', type: 'int64', nullable: false }, { name: 'payload', type: 'string', nullable: false }]
const ROWS = 400 // about 400 KiB per message
const BEFORE = 4 // messages acked while storage is healthy
const DURING = 120 // messages sent while uploads stall: ~50 MiB, far beyond the cap and what the kernel's socket buffers took (7–20 MiB seen)
const MAX_BUFFERED = 4 * 1024 * 1024

/** Message k: ids k·ROWS … k·ROWS+ROWS-1, each with a 1 KiB payload. */
function message (k: number): Uint8Array {
  const rows = Array.from({ length: ROWS }, (_, j) => ({ id: k * ROWS + j, payload: `row ${k * ROWS + j} `.padEnd(1024, '.') }))
  return makeIpcStream(rows, FIELDS)
}

/**
 * Object writes of the topic go through the fault proxy; everything else (catalog, listings) goes
 * straight to s3rver. A stalled catalog read would hold messages before they reach the buffers, a
 * different path to a paused socket (the in-flight limit) than the one under test.
 */
async function startRouter (t: { teardown: (fn: () => unknown) => void }, direct: string, faulty: string, bucket: string): Promise<string> {
  const sockets = new Set<Socket>()
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const upload = req.method !== 'GET' && req.method !== 'HEAD' && (req.url ?? '').startsWith(`/${bucket}/${TOPIC}/`)
    const to = new URL(upload ? faulty : direct)
    const up = httpRequest({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers)
      r.pipe(res)
    })
    up.on('error', () => req.socket.destroy())
    req.pipe(up)
  })
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    return new Promise((resolve) => server.close(resolve))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

interface Stats { bufferedBytes: number, maxBufferedBytes: number, topics: Record<string, { bufferedRows: number }> }

/** The gateway's own view (admin stats and metrics) plus what the client still holds. */
async function sample (gw: Gateway, admin: string, ws: WebSocket, got: unknown[]) {
  const stats = await (await fetch(`${gw.url}/v1/admin/stats`, { headers: { authorization: `Bearer ${admin}` } })).json() as Stats
  const text = await (await fetch(`${gw.url}/metrics`)).text()
  return {
    buffered: stats.bufferedBytes,
    bufferedRows: stats.topics[TOPIC]?.bufferedRows ?? 0,
    gauge: metric(text, 'quiver_buffered_bytes'),
    rowsIn: metric(text, `quiver_rows_ingested_total{topic="${TOPIC}"}`),
    pauses: metric(text, 'quiver_websocket_pauses_total'),
    clientBuffered: ws.bufferedAmount,
    frames: got.length
  }
}

async function stored (s3: S3rverHandle, n: number): Promise<{ objects: number, rows: number, sum: bigint, notOnce: number }> {
  const keys = (await s3.listKeys(`${TOPIC}/`)).filter((k) => k.endsWith('.parquet'))
  const seen = new Uint8Array(n)
  let rows = 0
  let sum = 0n
  for (const key of keys) {
    const ids = parquetTable(await s3.getObject(key)).getChild('id')!.toArray() as BigInt64Array
    rows += ids.length
    for (const id of ids) {
      sum += id
      seen[Number(id)]++
    }
  }
  return { objects: keys.length, rows, sum, notOnce: seen.filter((c) => c !== 1).length }
}

const acks = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'ack', seq: i + 1, rows: ROWS }))

test('slow storage: buffers fill, the socket stops being read, then every message is acked in order and stored once', async (t) => {
  const s3 = await startS3rver(t)
  const proxy = await startFaultProxy(t, s3.endpoint)
  const endpoint = await startRouter(t, s3.endpoint, proxy.url, s3.bucket)
  const gw = await startGateway(t, {
    ...s3.env,
    S3_ENDPOINT: endpoint,
    MAX_BUFFERED_BYTES: String(MAX_BUFFERED),
    FLUSH_INTERVAL_MS: '50',
    FLUSH_MAX_BYTES: String(MAX_BUFFERED / 2),
    ENCODER_THREADS: '1',
    // Above the number of messages: only full buffers can make the gateway stop reading.
    WS_MAX_INFLIGHT: String(10 * DURING)
  }, { timeoutMs: 60_000 })
  const admin = localToken(gw.dataDir, ['admin'])
  const writer = localToken(gw.dataDir, ['write'])
  const created = await fetch(`${gw.url}/v1/topics`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: TOPIC, schema: { fields: FIELDS } }) })
  t.equal(created.status, 201)

  const ws = await connect(`${gw.url.replace('http', 'ws')}/v1/topics/${TOPIC}/stream`, ['quiver.v1', `bearer.${writer}`])
  t.teardown(() => ws.terminate())
  const f = frames(ws)
  for (let i = 0; i < BEFORE; i++) ws.send(message(i))
  t.same(await f.next(BEFORE), acks(BEFORE), 'healthy storage: acks flow')
  const healthy = await sample(gw, admin, ws, f.got)

  // Built before the stall: a stall past the storage retry budget (20 s) would fail the flush.
  const messages = Array.from({ length: DURING }, (_, k) => message(BEFORE + k))
  const queued = messages.reduce((n, m) => n + m.byteLength, 0)
  proxy.reset()
  proxy.mode('stall')
  const stalledAt = Date.now()
  for (const m of messages) ws.send(m)
  // Until the gateway has taken all it will take: its counters and the client's queue stop moving,
  // for five samples in a row (one equal pair can be a busy machine's pause, not the end).
  let a = await sample(gw, admin, ws, f.got)
  let still = 0
  await waitFor(async () => {
    const now = await sample(gw, admin, ws, f.got)
    const same = now.buffered > 0 && now.rowsIn === a.rowsIn && now.buffered === a.buffered && now.clientBuffered === a.clientBuffered
    still = same ? still + 1 : 0
    a = now
    return still >= 5
  }, 'the gateway to stop taking messages', { timeoutMs: 60_000, everyMs: 200 })
  // Kept on purpose: that nothing moves for 1.5 s more is what is tested.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const b = await sample(gw, admin, ws, f.got)
  t.comment(`queued ${queued} B; stalled: ${JSON.stringify(a)}, 1.5 s later ${JSON.stringify(b)}; requests to the stalled path ${proxy.requests.length}; stalled for ${Date.now() - stalledAt} ms`)
  t.ok(proxy.requests.length >= 1 && proxy.requests.every((r) => r.method === 'PUT' && r.path.startsWith(`/${s3.bucket}/${TOPIC}/`)), 'uploads of the topic\'s objects were what stalled')
  t.ok(b.buffered <= MAX_BUFFERED && b.buffered >= MAX_BUFFERED / 2, `buffers full but within MAX_BUFFERED_BYTES: ${b.buffered} of ${MAX_BUFFERED}`)
  t.equal(b.gauge, b.buffered, 'the metrics gauge agrees with /v1/admin/stats')
  t.equal(b.bufferedRows, b.rowsIn - healthy.rowsIn, 'everything taken while storage stalls is held in the bounded buffer')
  t.ok(b.pauses > healthy.pauses, `the gateway stopped reading the socket (${b.pauses} pauses)`)
  t.ok(b.clientBuffered > 0, `the client could not hand ${b.clientBuffered} B to TCP`)
  t.same({ rowsIn: b.rowsIn, buffered: b.buffered, clientBuffered: b.clientBuffered, frames: b.frames },
    { rowsIn: a.rowsIn, buffered: a.buffered, clientBuffered: a.clientBuffered, frames: BEFORE },
    'while stalled nothing more is read or buffered, and no ack or error frame is sent')

  proxy.mode('pass')
  const recovered = Date.now()
  const n = BEFORE + DURING
  t.same(await f.next(n, 60_000), acks(n), 'every message acked, in order, none refused')
  t.comment(`all acked ${Date.now() - recovered} ms after storage recovered`)
  t.equal(ws.bufferedAmount, 0, 'the client\'s queue drained')
  const rows = n * ROWS
  const got = await stored(s3, rows)
  t.comment(`${got.objects} objects on s3rver`)
  t.same({ rows: got.rows, sum: got.sum, notOnce: got.notOnce }, { rows, sum: BigInt(rows) * BigInt(rows - 1) / 2n, notOnce: 0 }, 'every row stored exactly once')
  t.equal(f.got.length, n, 'no frame beyond the acks')
  t.equal((await sample(gw, admin, ws, f.got)).buffered, 0, 'buffers empty again')
  ws.close()
})
