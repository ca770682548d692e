import t from 'tap'
import { createTopic, startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { makeIpcStream } from '../helpers/arrow.ts'
import { connect, localRows, metric } from '../helpers/ws-client.ts'
import { waitFor } from '../helpers/wait.ts'

/*
 * What a producer sees on a quiver.v1 connection (README "WebSocket ingest"): a message over
 * WS_MAX_MESSAGE_BYTES closes with 1009 only after the messages before it were answered (else it
 * resends stored messages), and only binary messages are numbered. No timed flush runs: a message
 * becomes durable when the test flushes, so "before" and "after" are the test's own steps.
 */
const LIMIT = 1024 * 1024
const gateway = startGateway(t, { WS_MAX_MESSAGE_BYTES: String(LIMIT), FLUSH_INTERVAL_MS: '600000' })

const ids = (rows: Array<Record<string, unknown>>) => rows.map((r) => Number(r.id)).sort((a, b) => a - b)
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i)

async function setup (topic: string) {
  const gw = await gateway
  await createTopic(gw, topic)
  const admin = localToken(gw.dataDir, ['admin'])
  const ws = await connect(`${gw.url.replace('http', 'ws')}/v1/topics/${topic}/stream`, ['quiver.v1', `bearer.${localToken(gw.dataDir, ['write'])}`])
  // Frames and the close in the order they arrived.
  const events: unknown[] = []
  ws.on('message', (data, isBinary) => events.push(isBinary ? { binary: (data as Buffer).length } : JSON.parse(data.toString())))
  const closed = new Promise<void>((resolve) => ws.once('close', (code, reason) => { events.push({ close: code, reason: reason.toString() }); resolve() }))
  const get = async (path: string) => (await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${admin}` } }))
  return {
    gw,
    ws,
    events,
    closed,
    async flush () {
      const res = await fetch(`${gw.url}/v1/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } })
      if (res.status !== 200) throw new Error(`flush: ${res.status} ${await res.text()}`)
    },
    async bufferedRows (): Promise<number> {
      const stats = await (await get('/v1/admin/stats')).json() as { topics: Record<string, { bufferedRows: number }> }
      return stats.topics[topic]?.bufferedRows ?? 0
    },
    async connections (): Promise<number> {
      return metric(await (await get('/metrics')).text(), 'quiver_websocket_connections{kind="stream"}')
    },
    /** Times an ingest socket stopped being read, on the whole gateway. */
    async pauses (): Promise<number> {
      return metric(await (await get('/metrics')).text(), 'quiver_websocket_pauses_total')
    }
  }
}

t.test('a message over WS_MAX_MESSAGE_BYTES: the messages before it are answered, then close 1009; it is not read meanwhile', async (t) => {
  const s = await setup('too_big')
  s.ws.send(makeIpcStream(10))
  await waitFor(async () => await s.bufferedRows() === 10, 'message 1 to be buffered')
  await s.flush()
  await waitFor(() => s.events.length === 1, 'the ack of message 1')
  t.same(s.events, [{ type: 'ack', seq: 1, rows: 10 }])

  s.ws.send(makeIpcStream(5, { start: 10 })) // seq 2: buffered, durable only at the next flush
  s.ws.send(makeIpcStream([{ other: 1 }], [{ name: 'other', type: 'int64', nullable: true }])) // seq 3: refused
  // 64 MiB as 64 fragments of one message: what the producer still holds is then exact to 1 MiB.
  const part = Buffer.alloc(LIMIT, 7)
  const paused = await s.pauses()
  for (let i = 0; i < 64; i++) s.ws.send(part, { binary: true, fin: i === 63 })
  // The gateway stops reading the socket once it has seen the fragment that takes the message over
  // the limit, unless it closes it (the old behaviour): either way, what follows happens after that.
  await Promise.race([s.closed, waitFor(async () => await s.pauses() > paused, 'the gateway to stop reading')])
  t.same(s.events.slice(1), [], 'message 2 is not durable yet: no answer, no close')
  t.ok(s.ws.bufferedAmount > 32 * LIMIT, `the oversize message is not read while earlier ones are answered: ${(s.ws.bufferedAmount / LIMIT).toFixed(1)} of its 64 MiB are still on the producer's side`)

  await s.flush()
  await s.closed
  t.same(s.events, [
    { type: 'ack', seq: 1, rows: 10 },
    { type: 'ack', seq: 2, rows: 5 },
    { type: 'error', seq: 3, code: 'QUIVER_SCHEMA_MISMATCH', message: 'Schema does not match the topic: missing fields: id, ts (not null in the topic); unexpected fields: other' },
    { close: 1009, reason: 'message too big' }
  ], 'every message before the oversize one answered, in order, before the close')
  t.same(ids(localRows(s.gw.dataDir, 'too_big')), range(0, 15), 'messages 1 and 2 stored once; nothing of the oversize one')
  await waitFor(async () => await s.connections() === 0, 'the gateway to let go of the socket', { timeoutMs: 10_000 })
})

t.test('an oversize message with nothing in flight closes with 1009 at once', async (t) => {
  const s = await setup('too_big_alone')
  s.ws.send(Buffer.alloc(LIMIT + 1))
  await s.closed
  t.same(s.events, [{ close: 1009, reason: 'message too big' }])
  t.same(localRows(s.gw.dataDir, 'too_big_alone'), [])
})

t.test('a message of exactly WS_MAX_MESSAGE_BYTES is not oversize', async (t) => {
  const s = await setup('at_limit')
  const at = Buffer.alloc(LIMIT, 7)
  s.ws.send(at)
  await waitFor(() => s.events.length === 1, 'its answer')
  t.match(s.events, [{ type: 'error', seq: 1, code: 'QUIVER_INVALID_ARROW' }], 'read and decoded (not Arrow): answered, not closed')
  s.ws.close()
  await s.closed
})

t.test('text frames take no sequence number: binary messages are numbered 1, 2, 3…', async (t) => {
  const s = await setup('numbered')
  s.ws.send(makeIpcStream(1))
  s.ws.send('{"type":"ping"}')
  s.ws.send(makeIpcStream(2, { start: 1 }))
  s.ws.send('not even JSON')
  s.ws.send(makeIpcStream(3, { start: 3 }))
  await waitFor(async () => await s.bufferedRows() === 6, 'the three messages to be buffered')
  t.same(s.events, [], 'the text frames\' answers wait their turn behind message 1')
  await s.flush()
  await waitFor(() => s.events.length === 5, 'five answers')
  const textFrame = { type: 'error', seq: 0, code: 'QUIVER_TEXT_FRAME', message: 'Text frames are not accepted: send each Arrow IPC stream as one binary message' }
  t.same(s.events, [
    { type: 'ack', seq: 1, rows: 1 },
    textFrame,
    { type: 'ack', seq: 2, rows: 2 },
    textFrame,
    { type: 'ack', seq: 3, rows: 3 }
  ])
  t.same(ids(localRows(s.gw.dataDir, 'numbered')), range(0, 6))
  s.ws.close()
  await s.closed
})
