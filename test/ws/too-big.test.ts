import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { WebSocket, WebSocketServer } from 'ws'
import { answerBeforeTooBig } from '../../src/ws/too-big.ts'
import { waitFor } from '../helpers/wait.ts'

// src/ws/too-big.ts takes ws's "message too big" error over through ws internals (ws is pinned
// exactly in package.json): these tests fail when they move, on a bare ws server.

async function pair (t: { teardown: (fn: () => unknown) => void }) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1024 })
  await once(wss, 'listening')
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`)
  const [server] = await once(wss, 'connection') as [WebSocket]
  await once(client, 'open')
  t.teardown(async () => { client.terminate(); wss.close() })
  const errors: Array<Error & { code?: string }> = []
  server.on('error', (err) => errors.push(err))
  const got: string[] = []
  client.on('message', (data) => got.push(data.toString()))
  const closed = new Promise<{ code: number, reason: string }>((resolve) => client.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  return { server, client, errors, got, closed }
}

t.test('a message over maxPayload: the socket stays open for answers, the app closes with 1009, then the rest is dropped', async (t) => {
  const { server, client, errors, got, closed } = await pair(t)
  let readRest: (() => void) | null = null
  t.equal(answerBeforeTooBig(server, (rest) => { readRest = rest }), true, 'ws internals in place')
  client.send(Buffer.alloc(1024, 1))
  client.send(Buffer.alloc(8 * 1024 * 1024, 2))
  const [first] = await once(server, 'message') as [Buffer]
  t.equal(first.length, 1024, 'a message at the limit is delivered')
  await waitFor(() => readRest !== null, 'the oversize message to be refused')
  t.equal(server.readyState, WebSocket.OPEN, 'ws did not close the socket')
  t.same(errors, [], "no 'error' (@fastify/websocket would terminate the socket on it)")
  t.ok(client.bufferedAmount > 0, 'the rest of the oversize message is not read meanwhile')
  server.send('answer to message 1')
  server.close(1009, 'message too big')
  readRest!()
  t.same(await closed, { code: 1009, reason: 'message too big' })
  t.same(got, ['answer to message 1'], 'the answer arrived before the close')
  if (server.readyState !== WebSocket.CLOSED) await once(server, 'close')
  t.pass('the server side closed (the rest was read and dropped, the peer\'s close seen)')
})

t.test('other receiver errors keep ws\'s handling', async (t) => {
  const { server, client, errors, closed } = await pair(t)
  let called = false
  t.equal(answerBeforeTooBig(server, () => { called = true }), true)
  client.send(Buffer.from([0xff, 0xfe]), { binary: false }) // a text frame that is not UTF-8
  t.equal((await closed).code, 1007)
  t.same(errors.map((e) => e.code), ['WS_ERR_INVALID_UTF8'])
  t.equal(called, false)
})

t.test('without ws internals (another socket type) nothing is changed', async (t) => {
  const fake = Object.assign(Object.create(null) as object, { readyState: 1 }) as unknown as WebSocket
  t.equal(answerBeforeTooBig(fake, () => {}), false)
})
