import t from 'tap'
import { listeningApp } from '../e2e/ingest-helpers.ts'
import { makeIpcStream } from '../helpers/arrow.ts'
import { closed, connect, frames, localRows } from '../helpers/ws-client.ts'
import { waitFor } from '../helpers/wait.ts'

/*
 * A WebSocket frame is reserved in MAX_BUFFERED_BYTES from its header on (src/ws/reserve-frames.ts).
 * Found from outside: a writer sending only the header of a large frame (255 MiB declared, 10 bytes
 * sent) kept that reservation for as long as the socket stayed open; two such sockets took the
 * whole 512 MiB budget and every other ingest got 503 QUIVER_OVERLOADED, indefinitely. A message
 * must now arrive whole within REQUEST_TIMEOUT_MS, like an HTTP body: otherwise its reservation
 * is given back and the socket closes 1008, after the messages before it were answered.
 */
const BUDGET = 2_000_000
const TIMEOUT_MS = 1500

async function admission (base: string, admin: string): Promise<{ reservedBytes: number }> {
  const res = await fetch(`${base}/v1/admin/stats`, { headers: { authorization: `Bearer ${admin}` } })
  return ((await res.json()) as { admission: { reservedBytes: number } }).admission
}

t.test('a frame that stops arriving loses its reservation after REQUEST_TIMEOUT_MS; the socket closes 1008 after answering what came before', async (t) => {
  const gw = await listeningApp(t, { MAX_BUFFERED_BYTES: String(BUDGET), REQUEST_TIMEOUT_MS: String(TIMEOUT_MS), FLUSH_INTERVAL_MS: '100' })
  const ws = await connect(`${gw.base.replace('http', 'ws')}/v1/topics/events/stream?access_token=${gw.writer}`)
  t.teardown(() => ws.terminate())
  const answers = frames(ws)
  const whenClosed = closed(ws)
  ws.send(makeIpcStream(100, { start: 0 }))
  t.same((await answers.next(1, 30_000)).map((f) => [f.type, f.seq, f.rows]), [['ack', 1, 100]], 'a whole message is acked')

  // The header of a masked binary frame declaring 1,900,000 bytes, and 10 of them.
  const header = Buffer.alloc(14)
  header[0] = 0x82
  header[1] = 0x80 | 127
  header.writeBigUInt64BE(1_900_000n, 2)
  const raw = (ws as unknown as { _socket: { write: (b: Buffer) => void } })._socket
  raw.write(Buffer.concat([header, Buffer.alloc(10)]))
  const sentAt = Date.now()
  // Another producer meanwhile: refused at once while the frame holds the budget (the reservation is real).
  const ndjson = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ id: 1000 + i, name: 'n', price: 1.5, ts: '2024-01-01T00:00:00Z', ok: true })).join('\n')
  const post = () => fetch(`${gw.base}/v1/topics/events/records?ack=accepted`, { method: 'POST', headers: { authorization: `Bearer ${gw.writer}`, 'content-type': 'application/x-ndjson' }, body: ndjson })
  await waitFor(async () => (await admission(gw.base, gw.admin)).reservedBytes >= 1_900_000, 'the frame to be reserved', { timeoutMs: TIMEOUT_MS / 2 })
  const refused = await post()
  t.equal(refused.status, 503)
  t.match(await refused.json(), { code: 'QUIVER_OVERLOADED' })

  const close = await whenClosed
  const after = Date.now() - sentAt
  t.same(close, { code: 1008, reason: `message not received within REQUEST_TIMEOUT_MS (${TIMEOUT_MS} ms)` })
  t.ok(after >= TIMEOUT_MS - 100, `closed ${after} ms after the header (not before REQUEST_TIMEOUT_MS)`)
  t.ok(after < TIMEOUT_MS + 10_000, `closed ${after} ms after the header (ws's own closing timeout is 30 s)`)
  t.equal((await admission(gw.base, gw.admin)).reservedBytes, 0, 'the reservation is back')
  const accepted = await post()
  t.equal(accepted.status, 202, 'other producers are admitted again')
  t.match(await accepted.json(), { rows: 2000 })

  const flushed = await fetch(`${gw.base}/v1/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${gw.admin}` } })
  t.equal(flushed.status, 200)
  const ids = localRows(gw.dataDir, 'events').map((r) => Number(r.id)).sort((a, b) => a - b)
  t.same(ids, [...Array.from({ length: 100 }, (_, i) => i), ...Array.from({ length: 2000 }, (_, i) => 1000 + i)], 'the acked message and the POST stored once; nothing of the cut frame')
})
