import t from 'tap'
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'

const execFileAsync = promisify(execFile)
const BAD_TOKEN_BODY = { statusCode: 401, code: 'QUIVER_UNAUTHORIZED', error: 'Unauthorized', message: 'Missing or invalid bearer token' }

/** A self-signed certificate for 127.0.0.1/localhost (node:crypto cannot make X.509 certificates). */
function selfSignedCert (t: { teardown: (fn: () => unknown) => void }): { cert: string, key: string, dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-tls-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' })
  return { cert, key, dir }
}

t.test('TLS_CERT/TLS_KEY serve HTTPS: verified with the CA by undici and curl, plain HTTP refused', async (t) => {
  const { cert, key } = selfSignedCert(t)
  const { app, dataDir } = await buildApp(t, { TLS_CERT: cert, TLS_KEY: key })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }

  const dispatcher = new Agent({ connect: { ca: readFileSync(cert) } })
  t.teardown(() => dispatcher.close())
  const res = await request(`https://127.0.0.1:${port}/healthz`, { dispatcher })
  t.equal(res.statusCode, 200)
  t.same(await res.body.json(), { status: 'ok' })
  t.match(res.headers['strict-transport-security'], /max-age=15552000/, 'HSTS only when serving TLS itself')

  const token = localToken(dataDir, ['read'], { subject: 'tls-user' })
  const who = await request(`https://127.0.0.1:${port}/v1/whoami`, { dispatcher, headers: { authorization: `Bearer ${token}` } })
  t.equal(who.statusCode, 200)
  t.match(await who.body.json(), { sub: 'tls-user', roles: ['read'] })

  // An unknown CA is refused by a verifying client.
  const strict = new Agent()
  t.teardown(() => strict.close())
  await t.rejects(request(`https://127.0.0.1:${port}/healthz`, { dispatcher: strict }), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })

  // curl runs asynchronously: a synchronous child would block the event loop that serves it.
  const curlCa = (await execFileAsync('curl', ['-sS', '--cacert', cert, `https://127.0.0.1:${port}/healthz`])).stdout
  t.same(JSON.parse(curlCa), { status: 'ok' })
  const curlK = (await execFileAsync('curl', ['-sSk', `https://localhost:${port}/healthz`])).stdout
  t.same(JSON.parse(curlK), { status: 'ok' })

  // Plain HTTP to the TLS port gets no HTTP answer.
  const plain = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, (err: Error) => err.name)
  t.not(plain, 200)
})

/** Writes the request head, then one body byte per `everyMs` until the socket closes; resolves with what came back. */
async function slowClient (port: number, head: string, everyMs: number): Promise<{ answer: string, closedAfterMs: number, bytesSent: number }> {
  const started = performance.now()
  const socket: Socket = connect(port, '127.0.0.1')
  let answer = ''
  let bytesSent = 0
  socket.on('data', (d) => { answer += d.toString() })
  socket.on('error', () => {})
  socket.write(head)
  const timer = setInterval(() => {
    if (!socket.destroyed) { socket.write('x'); bytesSent++ }
  }, everyMs)
  await new Promise((resolve) => socket.once('close', resolve))
  clearInterval(timer)
  return { answer, closedAfterMs: Math.round(performance.now() - started), bytesSent }
}

t.test('slowloris: a body trickling in a byte at a time is cut by REQUEST_TIMEOUT_MS with a JSON 408', async (t) => {
  const { app, dataDir } = await buildApp(t, { REQUEST_TIMEOUT_MS: '1500' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const token = localToken(dataDir, ['admin'])

  const body = await slowClient(port, [
    'POST /v1/topics HTTP/1.1', 'Host: 127.0.0.1', `Authorization: Bearer ${token}`,
    'Content-Type: application/json', 'Content-Length: 10000', '', ''
  ].join('\r\n'), 200)
  // Not before the timeout (its clock starts after the connection this one includes); the upper
  // bound only tells a cut from none, on a machine that may be slow.
  t.ok(body.closedAfterMs >= 1500 && body.closedAfterMs < 10_000, `cut after ${body.closedAfterMs} ms (timeout 1500)`)
  t.ok(body.bytesSent < 100, `far from the whole body was sent (${body.bytesSent} of 10000 bytes)`)
  const [head, json] = body.answer.split('\r\n\r\n')
  t.match(head, /^HTTP\/1\.1 408 /)
  t.same(JSON.parse(json), { statusCode: 408, code: 'QUIVER_REQUEST_TIMEOUT', error: 'Request Timeout', message: 'The request was not received within the request timeout' })
  t.notMatch(body.answer, token.split('.')[2], 'the token is not echoed')

  // Headers that never end are cut the same way.
  const headers = await slowClient(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', 200)
  t.ok(headers.closedAfterMs >= 1500 && headers.closedAfterMs < 10_000, `slow headers cut after ${headers.closedAfterMs} ms (headers timeout 1500)`)
  t.match(headers.answer, /^HTTP\/1\.1 408 /)

  // The server is still fine for everyone else.
  const res = await fetch(`http://127.0.0.1:${port}/healthz`)
  t.same(await res.json(), { status: 'ok' })
})

t.test('rate limit: RATE_LIMIT_MAX per minute per principal on /v1, 429 in the JSON error shape with Retry-After', async (t) => {
  const { app, dataDir } = await buildApp(t, { RATE_LIMIT_MAX: '3' })
  const bob = localToken(dataDir, ['read'], { subject: 'bob' })
  const alice = localToken(dataDir, ['read'], { subject: 'alice' })
  // A second token of the same principal shares its budget: the key is the verified sub.
  const bobAgain = localToken(dataDir, ['read'], { subject: 'bob', ttlSeconds: 900 })
  const whoami = (token: string) => app.inject({ url: '/v1/whoami', headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '10.0.0.1' } })

  for (let i = 0; i < 3; i++) {
    const res = await whoami(i === 2 ? bobAgain : bob)
    t.equal(res.statusCode, 200)
    t.equal(res.headers['x-ratelimit-remaining'], String(2 - i))
  }
  const limited = await whoami(bob)
  t.equal(limited.statusCode, 429)
  const retryAfter = Number(limited.headers['retry-after'])
  t.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`)
  t.same(limited.json(), { statusCode: 429, code: 'QUIVER_RATE_LIMITED', error: 'Too Many Requests', message: `Too many requests; retry in ${retryAfter} seconds` })

  const other = await whoami(alice)
  t.equal(other.statusCode, 200, 'another principal on the same address has its own budget')

  // Bad tokens are refused by auth before the limiter (they are not counted against anyone).
  const bad = await app.inject({ url: '/v1/whoami', headers: { authorization: 'Bearer nope' } })
  t.equal(bad.statusCode, 401)
  t.same(bad.json(), BAD_TOKEN_BODY)

  // Health, metrics and docs are never limited.
  for (let i = 0; i < 6; i++) t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
})

t.test('rate limit off by default (RATE_LIMIT_MAX=0)', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const token = localToken(dataDir, ['read'])
  for (let i = 0; i < 120; i++) {
    const res = await app.inject({ url: '/v1/whoami', headers: { authorization: `Bearer ${token}` } })
    if (res.statusCode !== 200) return t.fail(`request ${i}: ${res.statusCode}`)
    if (res.headers['x-ratelimit-limit'] !== undefined) return t.fail('no rate-limit headers when off')
  }
  t.pass('120 requests in a row, no limit')
})
