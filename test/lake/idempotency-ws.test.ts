import t, { type Test as Tap } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import type WebSocket from 'ws'
import { DuckDBInstance } from '@duckdb/node-api'
import { buildApp } from '../helpers/app.ts'
import { startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { makeIpcStream, TEST_TOPIC_SCHEMA } from '../helpers/arrow.ts'
import { connect, frames, type Frame } from '../helpers/ws-client.ts'
import { waitFor } from '../helpers/wait.ts'

// Exactly-once over WebSocket (README "Exactly-once over WebSocket"): a text frame
// {"type":"key","key":…} announces the key of the next binary message; the key goes through the
// same claims as an HTTP Idempotency-Key. Real gateways, `ws` clients, Parquet read back with DuckDB.

/** Row count per id of every committed object of topic `t`. */
async function stored (dataDir: string): Promise<Array<[number, number]>> {
  const db = await DuckDBInstance.create(':memory:')
  const con = await db.connect()
  try {
    const r = await con.runAndReadAll(`SELECT id, count(*) AS n FROM read_parquet('${dataDir}/t/**/*.parquet') GROUP BY id ORDER BY id`)
    return r.getRowObjects().map((row) => [Number(row.id), Number(row.n)])
  } catch (err) {
    if (/No files found/.test(String(err))) return []
    throw err
  } finally {
    con.closeSync()
  }
}

const once = (from: number, n: number): Array<[number, number]> => Array.from({ length: n }, (_, i) => [from + i, 1])
const body = (n: number, start: number) => makeIpcStream(n, { start })

/** A producer's connection: `send(key, bytes)` announces the key (when given) and sends the message. */
async function producer (t: Tap, url: string, token: string) {
  const ws: WebSocket = await connect(url, ['quiver.v1', `bearer.${token}`])
  t.teardown(() => ws.terminate())
  const f = frames(ws)
  let sent = 0
  return {
    ws,
    send (key: string | null, bytes: Uint8Array): number {
      if (key !== null) ws.send(JSON.stringify({ type: 'key', key }))
      ws.send(bytes)
      return ++sent
    },
    /** The answer to message `seq` of this connection. */
    async answer (seq: number): Promise<Frame> {
      return (await f.next(seq, 60_000))[seq - 1]
    },
    close: () => ws.close()
  }
}

async function listening (t: Tap, env: Record<string, string>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'quiver-keys-ws-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const { app } = await buildApp(t, { DATA_DIR: dataDir, ENCODER_THREADS: '1', ...env })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const admin = localToken(dataDir, ['admin'])
  const created = await fetch(`${origin}/v1/topics`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 't', schema: TEST_TOPIC_SCHEMA }) })
  t.equal(created.status, 201)
  const url = `${origin.replace('http', 'ws')}/v1/topics/t/stream`
  const writer = (who: string) => localToken(dataDir, ['write'], { subject: who })
  const flush = async () => t.equal((await fetch(`${origin}/v1/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } })).status, 200)
  return { dataDir, origin, url, writer, flush, admin }
}

/** Rows of topic `t` waiting in the gateway's buffer. */
async function bufferedRows (gw: { origin: string, admin: string }): Promise<number> {
  const stats = await (await fetch(`${gw.origin}/v1/admin/stats`, { headers: { authorization: `Bearer ${gw.admin}` } })).json() as { topics: Record<string, { bufferedRows: number } | undefined> }
  return stats.topics.t?.bufferedRows ?? 0
}

t.test('replay after reconnect, reused key, other principal, malformed key, plain messages unchanged', async (t) => {
  const gw = await listening(t, { FLUSH_INTERVAL_MS: '50' })
  const a = await producer(t, gw.url, gw.writer('alice'))
  a.send('m-1', body(3, 0))
  a.send(null, body(2, 100))
  a.send('m-2', body(4, 10))
  t.same(await a.answer(1), { type: 'ack', seq: 1, rows: 3 }, 'a keyed message is acked as any other')
  t.same(await a.answer(2), { type: 'ack', seq: 2, rows: 2 }, 'a plain message is unchanged')
  t.same(await a.answer(3), { type: 'ack', seq: 3, rows: 4 })
  a.close()

  // The producer reconnects and resends what it is unsure about.
  const again = await producer(t, gw.url, gw.writer('alice'))
  again.send('m-1', body(3, 0))
  again.send('m-2', body(4, 10))
  again.send('m-1', body(3, 50))
  again.send('m-3', body(1, 60))
  t.same(await again.answer(1), { type: 'ack', seq: 1, rows: 3, replayed: true }, 'replayed: nothing stored again')
  t.same(await again.answer(2), { type: 'ack', seq: 2, rows: 4, replayed: true })
  t.same(await again.answer(3), { type: 'error', seq: 3, code: 'QUIVER_IDEMPOTENCY_KEY_REUSED', message: 'This Idempotency-Key was used for another request (body, content type or ack differ)' }, 'the key with another body: the 422 code')
  t.same(await again.answer(4), { type: 'ack', seq: 4, rows: 1 }, 'the connection goes on')

  // Bad announcements: the message they name is refused, the numbering counts messages only.
  again.ws.send(JSON.stringify({ type: 'key', key: 'has space' }))
  again.ws.send(body(2, 70))
  again.ws.send(JSON.stringify({ type: 'key', key: 42 }))
  again.ws.send(body(2, 72))
  again.ws.send('{"type":"hello"}')
  t.same(await again.answer(5), { type: 'error', seq: 5, code: 'QUIVER_INVALID_IDEMPOTENCY_KEY', message: 'Idempotency-Key must be 1 to 255 visible ASCII characters' })
  t.same(await again.answer(6), { type: 'error', seq: 6, code: 'QUIVER_INVALID_IDEMPOTENCY_KEY', message: 'Idempotency-Key must be 1 to 255 visible ASCII characters' })
  t.same(await again.answer(7), { type: 'error', seq: 0, code: 'QUIVER_TEXT_FRAME', message: 'Text frames are not accepted: send each Arrow IPC stream as one binary message' }, 'any other text frame is refused as before (the 7th answer; a text frame takes no sequence number)')

  const bob = await producer(t, gw.url, gw.writer('bob'))
  bob.send('m-1', body(2, 200))
  t.same(await bob.answer(1), { type: 'ack', seq: 1, rows: 2 }, 'keys are per principal: bob\'s m-1 is not alice\'s')

  // One store for both transports: the same bytes POSTed as an Arrow stream with ack=durable are the same request.
  const post = await fetch(`${gw.origin}/v1/topics/t/records`, { method: 'POST', headers: { authorization: `Bearer ${gw.writer('alice')}`, 'content-type': 'application/vnd.apache.arrow.stream', 'idempotency-key': 'm-2' }, body: Buffer.from(body(4, 10)) })
  t.equal(post.status, 200)
  t.equal(post.headers.get('idempotent-replayed'), 'true')
  t.same(await post.json(), { topic: 't', rows: 4, batches: 1, bytes: body(4, 10).byteLength, ack: 'durable' })

  t.same(await stored(gw.dataDir), [...once(0, 3), ...once(10, 4), ...once(60, 1), ...once(100, 2), ...once(200, 2)], 'every acked row exactly once, nothing of the refused ones')
})

t.test('a duplicate in flight gets the 409 code, on the same connection and from another one', async (t) => {
  // No timer flush: the first message stays in flight until the admin flush.
  const gw = await listening(t, { FLUSH_INTERVAL_MS: '600000' })
  const a = await producer(t, gw.url, gw.writer('alice'))
  const b = await producer(t, gw.url, gw.writer('alice'))
  a.send('k', body(3, 0))
  a.send('k', body(3, 0))
  const inFlight = { code: 'QUIVER_IDEMPOTENCY_IN_FLIGHT', message: 'A request with this Idempotency-Key is still being processed; retry shortly' }
  // Acks leave in order: the first message's answer waits for its flush, so the duplicate's too.
  const second = a.answer(2)
  await waitFor(async () => await bufferedRows(gw) === 3, 'the first message buffered (its key claimed)')
  b.send('k', body(3, 0))
  t.same(await b.answer(1), { type: 'error', seq: 1, ...inFlight }, 'another connection (a reconnected producer)')
  await gw.flush()
  t.same(await a.answer(1), { type: 'ack', seq: 1, rows: 3 })
  t.same(await second, { type: 'error', seq: 2, ...inFlight }, 'the same connection, pipelined')
  b.send('k', body(3, 0))
  t.same(await b.answer(2), { type: 'ack', seq: 2, rows: 3, replayed: true }, 'once committed: the replay')
  t.same(await stored(gw.dataDir), once(0, 3))
})

t.test('kill -9 between send and ack, resend after the restart: exactly once', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'quiver-keys-ws-kill-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const env = { DATA_DIR: dataDir, FLUSH_INTERVAL_MS: '600000', IDEMPOTENCY_LEASE_MS: '1500', ENCODER_THREADS: '1', LOG_LEVEL: 'error' }
  let gw = await startGateway(t, env)
  const admin = { authorization: `Bearer ${localToken(dataDir, ['admin'])}` }
  t.equal((await fetch(`${gw.url}/v1/topics`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ name: 't', schema: TEST_TOPIC_SCHEMA }) })).status, 201)
  const token = localToken(dataDir, ['write'], { subject: 'alice' })
  const wsUrl = () => `${gw.url.replace('http', 'ws')}/v1/topics/t/stream`

  const p = await producer(t, wsUrl(), token)
  // c-1 is committed by the admin flush (its ack may or may not reach the producer: it does not
  // look); c-2 is buffered when the gateway dies.
  const buffered = async (rows: number) => await waitFor(async () => await bufferedRows({ origin: gw.url, admin: admin.authorization.slice(7) }) === rows, `${rows} rows buffered`)
  p.send('c-1', body(5, 0))
  await buffered(5)
  t.equal((await fetch(`${gw.url}/v1/admin/flush`, { method: 'POST', headers: admin })).status, 200)
  p.send('c-2', body(5, 5))
  await buffered(5)
  gw.kill('SIGKILL')
  await gw.exited
  gw = await startGateway(t, { ...env, FLUSH_INTERVAL_MS: '100' })
  // As a load balancer would: producers are sent to it once it is ready, not merely alive.
  await waitFor(async () => (await fetch(`${gw.url}/readyz`)).status === 200, 'the restarted gateway ready', { timeoutMs: 60_000, everyMs: 50 })

  // The producer resends both. c-2's claim is open until its lease (1.5 s) ends: 409, retried.
  const r = await producer(t, wsUrl(), token)
  const answers: Frame[] = []
  for (const [key, start] of [['c-1', 0], ['c-2', 5]] as const) {
    let answer: Frame | undefined
    await waitFor(async () => {
      answer = await r.answer(r.send(key, body(5, start)))
      if (answer.type === 'ack') return true
      t.equal(answer.code, 'QUIVER_IDEMPOTENCY_IN_FLIGHT', `${key}: only "in flight" while the dead gateway's lease runs`)
      return false
    }, `${key} acked after the restart`, { timeoutMs: 60_000, everyMs: 100 })
    answers.push(answer!)
  }
  t.match(answers[0], { type: 'ack', rows: 5, replayed: true }, 'c-1 was committed before the kill: replayed')
  t.notOk('replayed' in answers[1], 'c-2 was lost with the buffer: stored now')
  t.equal((await fetch(`${gw.url}/v1/admin/flush`, { method: 'POST', headers: admin })).status, 200)
  gw.kill('SIGTERM')
  await gw.exited
  t.same(await stored(dataDir), once(0, 10), 'every row exactly once')
})
