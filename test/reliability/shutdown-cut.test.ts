import { once } from 'node:events'
import { readdirSync } from 'node:fs'
import { get, type IncomingMessage } from 'node:http'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { makeIpcStream, TEST_TOPIC_SCHEMA } from '../helpers/arrow.ts'
import { createTopic, startGateway, type Gateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { waitFor } from '../helpers/wait.ts'

/*
 * Shutdown with clients that would hold it (plugins/app/drain.ts): a reader that stopped reading,
 * a producer whose body trickles in, a request arriving on a connection still open. Each gets
 * an answer or is cut by half of SHUTDOWN_TIMEOUT_MS, and the gateway exits 0. Before: the
 * gateway waited for them until SHUTDOWN_TIMEOUT_MS, exited 1 logging "buffers not flushed"
 * (none were), the producer got no answer, the late request Fastify's bare 503.
 */

const SHUTDOWN_TIMEOUT_MS = 10_000
const SHUTTING_DOWN = { statusCode: 503, code: 'QUIVER_SHUTTING_DOWN', error: 'Service Unavailable', message: 'The gateway is shutting down; retry on another instance' }

function parquetKeys (gw: Gateway, topic: string): string[] {
  try {
    return readdirSync(join(gw.dataDir, topic), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet'))
  } catch { return [] }
}

/** The last HTTP answer in `raw` (after any 100 Continue): status, lower-cased headers, body. */
function lastAnswer (raw: string): { status: number, headers: Record<string, string>, body: unknown } {
  const at = raw.lastIndexOf('HTTP/1.1 ')
  const [head, body] = [raw.slice(at, raw.indexOf('\r\n\r\n', at)), raw.slice(raw.indexOf('\r\n\r\n', at) + 4)]
  const [status, ...lines] = head.split('\r\n')
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
  return { status: Number(status.split(' ')[1]), headers, body: JSON.parse(body) }
}

function errorLines (gw: Gateway): string[] {
  return gw.stdout().split('\n').filter((l) => /"level":(50|60)/.test(l))
}

/** How a response being read ends: 'end' (all of it), or the error that cut it. */
function outcome (res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    res.once('end', () => resolve('end'))
    res.once('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`))
    res.once('close', () => resolve(res.complete ? 'end' : 'closed'))
  })
}

/** The last answer on a raw connection is 503 QUIVER_SHUTTING_DOWN with Retry-After 1 and connection: close. */
function shuttingDownAnswer (t: Test, raw: string): void {
  const answer = lastAnswer(raw)
  t.equal(answer.status, 503)
  t.same(answer.body, SHUTTING_DOWN)
  t.equal(answer.headers['retry-after'], '1')
  t.equal(answer.headers.connection, 'close')
}

t.test('SIGTERM with a reader that stopped reading: the read is cut, a normal read completes, exit 0 well before SHUTDOWN_TIMEOUT_MS', async (t) => {
  const gw = await startGateway(t, { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS), FLUSH_INTERVAL_MS: '200' })
  await createTopic(gw, 'big', TEST_TOPIC_SCHEMA)
  const rows = 300_000 // as NDJSON, far more than the socket buffers of a reader that stopped hold
  const stored = await fetch(`${gw.url}/v1/topics/big/records`, { method: 'POST', headers: { authorization: `Bearer ${localToken(gw.dataDir, ['write'])}`, 'content-type': 'application/vnd.apache.arrow.stream' }, body: Buffer.from(makeIpcStream(rows)) })
  t.equal(stored.status, 200, await stored.text())
  const reader = localToken(gw.dataDir, ['read'])
  const read = async (limit: number): Promise<IncomingMessage> => {
    const req = get(`${gw.url}/v1/topics/big/records?limit=${limit}`, { headers: { authorization: `Bearer ${reader}`, accept: 'application/x-ndjson' } })
    const [res] = await once(req, 'response') as [IncomingMessage]
    t.equal(res.statusCode, 200)
    return res
  }
  const slow = await read(1_000_000)
  let slowBytes = 0
  await new Promise<void>((resolve) => slow.once('data', (d: Buffer) => { slowBytes += d.byteLength; slow.pause(); resolve() }))
  const slowEnded = outcome(slow)
  const normal = await read(1000)
  let normalText = ''
  normal.setEncoding('utf8').on('data', (d: string) => { normalText += d })
  const normalEnded = outcome(normal)

  const killedAt = performance.now()
  gw.kill('SIGTERM')
  const code = await gw.exited
  const exitMs = performance.now() - killedAt
  t.equal(code, 0, 'exit 0')
  t.ok(exitMs < SHUTDOWN_TIMEOUT_MS * 0.75, `exited ${exitMs.toFixed(0)} ms after SIGTERM (cut at ${SHUTDOWN_TIMEOUT_MS / 2}, deadline ${SHUTDOWN_TIMEOUT_MS})`)
  t.equal(await normalEnded, 'end', 'the read in flight at SIGTERM completed')
  t.equal(normalText.split('\n').filter(Boolean).length, 1000)
  slow.on('data', (d: Buffer) => { slowBytes += d.byteLength }).resume()
  t.not(await slowEnded, 'end', 'the read that stopped was cut')
  t.ok(slowBytes < rows * 50, `the reader got ${slowBytes} bytes, not the whole answer`)
  t.same(errorLines(gw), [], 'nothing logged at error level: nothing was lost')
})

t.test('SIGTERM while a producer trickles its body: 503 QUIVER_SHUTTING_DOWN before the deadline, nothing stored, exit 0', async (t) => {
  const gw = await startGateway(t, { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS), FLUSH_INTERVAL_MS: '200' })
  await createTopic(gw, 'slow', TEST_TOPIC_SCHEMA)
  const s = connect(gw.port, '127.0.0.1')
  let raw = ''
  s.setEncoding('latin1').on('data', (d: string) => { raw += d })
  const serverEnded = once(s, 'end')
  // `Expect: 100-continue`: the gateway's "100 Continue" says the request reached its router.
  s.write(`POST /v1/topics/slow/records HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${localToken(gw.dataDir, ['write'])}\r\ncontent-type: application/x-ndjson\r\ncontent-length: 100000\r\nexpect: 100-continue\r\n\r\n`)
  await waitFor(() => raw.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), '100 Continue')
  const line = JSON.stringify({ id: 1, name: 'n', price: 1, ts: '2024-05-01T12:00:00.000Z', ok: true }) + '\n'
  s.write(line)
  // The trickle itself (a line every 200 ms, far slower than any shutdown budget), not a synchronisation.
  const trickle = setInterval(() => { if (s.writable) s.write(line) }, 200)
  t.teardown(() => clearInterval(trickle))

  const killedAt = performance.now()
  gw.kill('SIGTERM')
  await serverEnded // the answer, then the gateway's FIN (the lingering close reads what still comes)
  const answeredMs = performance.now() - killedAt
  clearInterval(trickle)
  s.end()
  const code = await gw.exited
  t.equal(code, 0, 'exit 0')
  t.ok(answeredMs < SHUTDOWN_TIMEOUT_MS * 0.75, `answered ${answeredMs.toFixed(0)} ms after SIGTERM (deadline ${SHUTDOWN_TIMEOUT_MS})`)
  shuttingDownAnswer(t, raw)
  t.same(parquetKeys(gw, 'slow'), [], 'nothing of the cut body was stored')
  t.same(errorLines(gw), [], 'nothing logged at error level')
})

t.test('a request arriving after SIGTERM on a connection still open gets 503 QUIVER_SHUTTING_DOWN with Retry-After, then exit 0', async (t) => {
  const gw = await startGateway(t, { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS), FLUSH_INTERVAL_MS: '200' })
  await createTopic(gw, 'late', TEST_TOPIC_SCHEMA)
  const s: Socket = connect(gw.port, '127.0.0.1')
  await once(s, 'connect')
  let raw = ''
  s.setEncoding('latin1').on('data', (d: string) => { raw += d })
  const serverEnded = once(s, 'end')
  // A request begun (its first header line) keeps the connection from being closed as idle.
  s.write('POST /v1/topics/late/records HTTP/1.1\r\nhost: x\r\n')
  gw.kill('SIGTERM')
  // The listener closes once the shutdown has begun: then the rest of the request arrives.
  await waitFor(() => new Promise<boolean>((resolve) => {
    const probe = connect(gw.port, '127.0.0.1')
    probe.once('connect', () => { probe.destroy(); resolve(false) }).once('error', () => resolve(true))
  }), 'the listener to close')
  const body = JSON.stringify({ id: 7, name: 'n', price: 1, ts: '2024-05-01T12:00:00.000Z', ok: true }) + '\n'
  s.write(`authorization: Bearer ${localToken(gw.dataDir, ['write'])}\r\ncontent-type: application/x-ndjson\r\ncontent-length: ${body.length}\r\n\r\n${body}`)
  await serverEnded
  s.end()
  t.equal(await gw.exited, 0, 'exit 0')
  shuttingDownAnswer(t, raw)
  t.same(parquetKeys(gw, 'late'), [], 'nothing of it was stored')
})
