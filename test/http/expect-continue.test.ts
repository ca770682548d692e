import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import t from 'tap'
import { listeningApp } from '../e2e/ingest-helpers.ts'

// Found from outside: `Expect: 100-continue` with `Content-Length: 5000000000` got `100 Continue`
// (Node sends it as soon as the headers arrive) and then 413: the client was told to start
// sending a body the gateway was about to refuse. The 100 now goes only once a route reads the body.

/** Reads what the server sends until `done(text)` holds. */
async function readUntil (socket: Socket, done: (text: string) => boolean, text = { value: '' }): Promise<string> {
  while (!done(text.value)) {
    const [chunk] = await once(socket, 'data', { signal: AbortSignal.timeout(20_000) }) as [Buffer]
    text.value += chunk.toString('latin1')
  }
  return text.value
}

const complete = (text: string) => {
  const end = text.indexOf('\r\n\r\n', text.startsWith('HTTP/1.1 100') ? text.indexOf('\r\n\r\n') + 4 : 0)
  if (end < 0) return false
  const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, end))
  return length !== null && text.length >= end + 4 + Number(length[1])
}

t.test('Expect: 100-continue: a refused request gets its answer without 100; an accepted one gets 100, then its answer', async (t) => {
  const gw = await listeningApp(t)
  const { port } = new URL(gw.base)
  const open = async () => {
    const socket = connect(Number(port), '127.0.0.1')
    t.teardown(() => socket.destroy())
    await once(socket, 'connect')
    return socket
  }
  const head = (length: number, token: string | null, type = 'application/vnd.apache.arrow.stream') =>
    `POST /v1/topics/events/records HTTP/1.1\r\nHost: x\r\n${token ? `Authorization: Bearer ${token}\r\n` : ''}Content-Type: ${type}\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`

  const tooLarge = await open()
  tooLarge.write(head(5_000_000_000, gw.writer))
  const a = await readUntil(tooLarge, complete)
  t.match(a, /^HTTP\/1\.1 413 /, 'the first thing sent is the 413')
  t.notMatch(a, /100 Continue/)
  t.match(JSON.parse(a.slice(a.indexOf('\r\n\r\n') + 4)), { code: 'QUIVER_PAYLOAD_TOO_LARGE' })

  const anonymous = await open()
  anonymous.write(head(1000, null))
  const b = await readUntil(anonymous, complete)
  t.match(b, /^HTTP\/1\.1 401 /, 'no token: 401 first')
  t.notMatch(b, /100 Continue/)

  const fine = await open()
  const body = Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: i, name: 'n', price: 1.5, ts: '2024-01-01T00:00:00Z', ok: true })).join('\n')
  fine.write(head(Buffer.byteLength(body), gw.writer, 'application/x-ndjson'))
  const text = { value: '' }
  await readUntil(fine, (s) => s.includes('\r\n\r\n'), text)
  t.match(text.value, /^HTTP\/1\.1 100 Continue\r\n\r\n$/, '100 Continue once the route reads the body, and nothing else yet')
  fine.write(body)
  const c = await readUntil(fine, complete, text)
  t.match(c.slice(c.indexOf('\r\n\r\n') + 4), /^HTTP\/1\.1 200 /)
  t.match(JSON.parse(c.slice(c.lastIndexOf('\r\n\r\n') + 4)), { rows: 10, ack: 'durable' })
})
