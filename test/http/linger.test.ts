import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { makeNdjson } from '../helpers/arrow.ts'
import { listeningApp } from '../e2e/ingest-helpers.ts'

// src/http/linger.ts: a request refused part-way through its body is answered with
// `connection: close`, then the server keeps reading and discarding until the client is done.

t.test('a body refused part-way is read to the client\'s end, then the connection closes at once (not at the linger timer)', async (t) => {
  const { app, base, writer } = await listeningApp(t, { MAX_REQUEST_BYTES: '65536' })
  const serverSockets: Socket[] = []
  app.server.on('connection', (s: Socket) => serverSockets.push(s))
  const body = Buffer.from(makeNdjson(20_000)) // ~1.6 MB: refused once 64 KiB were read
  t.ok(body.byteLength > 1024 * 1024)
  const client = connect({ host: '127.0.0.1', port: Number(new URL(base).port) })
  await once(client, 'connect')
  let answer = ''
  client.on('data', (d: Buffer) => { answer += d.toString('latin1') })
  const serverEnded = once(client, 'end')
  client.write(`POST /v1/topics/events/records HTTP/1.1\r\nhost: ${new URL(base).host}\r\nauthorization: Bearer ${writer}\r\ncontent-type: application/x-ndjson\r\ncontent-length: ${body.byteLength}\r\n\r\n`)
  // The whole body goes out without EPIPE or ECONNRESET: the server reads what it refused.
  const written = new Promise<void>((resolve, reject) => {
    client.once('error', reject)
    client.write(body, (err) => { if (err) reject(err); else resolve() })
  })
  await written
  await serverEnded // the answer is complete and the server half-closed
  t.match(answer, /^HTTP\/1\.1 413 /)
  t.match(answer, /\r\nconnection: close\r\n/i)
  t.match(answer, /"code":"QUIVER_PAYLOAD_TOO_LARGE"/)
  t.equal(serverSockets.length, 1)
  const server = serverSockets[0]
  t.notOk(server.destroyed, 'still lingering until the client ends')
  const closed = once(server, 'close')
  const t0 = performance.now()
  client.end()
  await closed
  const ms = performance.now() - t0
  // The linger timer is 2,000 ms: a socket no longer read (the request paused by its parser)
  // never saw the client's FIN and closed only then, and app.close() waited for it.
  t.ok(ms < 1000, `closed ${ms.toFixed(0)} ms after the client's FIN`)
})
