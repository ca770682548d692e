import tap, { test } from 'tap'
import type { AddressInfo } from 'node:net'
import { tableFromIPC } from 'apache-arrow'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { makeIpcStream } from '../helpers/arrow.ts'
import { closed, connect, frames, metric, type Refusal } from '../helpers/ws-client.ts'
import { waitFor } from '../helpers/wait.ts'

async function listening (t: Parameters<typeof buildApp>[0], env: Record<string, string> = {}) {
  const built = await buildApp(t, { ENCODER_THREADS: '1', FLUSH_INTERVAL_MS: '50', ...env })
  await built.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = built.app.server.address() as AddressInfo
  const base = `ws://127.0.0.1:${port}/v1/topics`
  return { ...built, base, writer: localToken(built.dataDir, ['write']), reader: localToken(built.dataDir, ['read']) }
}

// One gateway for the tests that need no special configuration (starting one costs seconds).
const shared = listening(tap)

test('tail sends every accepted batch as an Arrow IPC stream', async (t) => {
  const { base, writer, reader, app } = await shared
  const tail = await connect(`${base}/tailed/tail`, ['quiver.v1', `bearer.${reader}`])
  t.equal(tail.protocol, 'quiver.v1')
  const messages: Buffer[] = []
  tail.on('message', (data, isBinary) => { if (isBinary) messages.push(data as Buffer) })

  const ws = await connect(`${base}/tailed/stream`, ['quiver.v1', `bearer.${writer}`])
  const f = frames(ws)
  ws.send(makeIpcStream(3))
  ws.send(makeIpcStream(2, { start: 3 }))
  await f.next(2)
  await waitFor(() => messages.length >= 2, 'both batches on the tail')
  const tables = messages.map((m) => tableFromIPC(m))
  t.same(tables[0].schema.fields.map((fl) => `${fl.name}: ${String(fl.type)}`).slice(-1), ['__ingested_at: Timestamp<MICROSECOND, UTC>'], 'with their ingestion time')
  t.same(tables[0].schema.fields.map((fl) => fl.name), ['id', 'name', 'price', 'ts', 'ok', '__ingested_at'], 'the topic\'s columns')
  const rows = tables.flatMap((tb) => tb.toArray().map((r) => r.toJSON()))
  t.same(rows.map((r) => [Number(r.id), r.name, r.price, r.ok]), [
    [0, 'name-0', 0, true], [1, 'name-1', 1.5, false], [2, 'name-2', 3, true], [3, 'name-3', 4.5, false], [4, 'name-4', 6, true]
  ])
  const gauge = async () => metric((await app.inject('/metrics')).body, 'quiver_websocket_connections{kind="tail"}')
  t.equal(await gauge(), 1)
  tail.close()
  await closed(tail)
  await waitFor(async () => await gauge() === 0, 'the server to count the tail closed')
  ws.close()
})

test('tail needs read; unknown topics are 404 before the upgrade without auto-create', async (t) => {
  const { base, reader } = await listening(t, { AUTO_CREATE_TOPICS: 'false' })
  const none = await connect(`${base}/x/tail`).catch((e: Refusal) => e)
  t.equal((none as Refusal).status, 401)
  const missing = await connect(`${base}/missing/tail`, ['quiver.v1', `bearer.${reader}`]).catch((e: Refusal) => e)
  t.same((missing as Refusal).body, { statusCode: 404, code: 'QUIVER_TOPIC_NOT_FOUND', error: 'Not Found', message: 'Topic "missing" does not exist' })
})

test('a reader that does not keep up is closed with 1013', async (t) => {
  const { base, writer, reader } = await shared
  const tail = await connect(`${base}/flood/tail`, ['quiver.v1', `bearer.${reader}`])
  const done = closed(tail)
  // Stop reading on the client: the server's send queue for this reader grows past its limit.
  ;(tail as unknown as { _socket: { pause (): void } })._socket.pause()
  const ws = await connect(`${base}/flood/stream`, ['quiver.v1', `bearer.${writer}`])
  const f = frames(ws)
  const n = 24
  for (let i = 0; i < n; i++) ws.send(makeIpcStream(20_000, { start: i * 20_000 }))
  t.equal((await f.next(n, 60_000)).filter((fr) => fr.type === 'ack').length, n, 'the writer is not slowed down by the reader')
  ;(tail as unknown as { _socket: { resume (): void } })._socket.resume()
  const { code, reason } = await done
  t.equal(code, 1013)
  t.equal(reason, 'reader too slow')
  ws.close()
})
