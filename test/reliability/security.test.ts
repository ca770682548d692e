import t from 'tap'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import { startGateway } from '../helpers/gateway.ts'
import { buildApp } from '../helpers/app.ts'
import { connect } from '../helpers/ws-client.ts'
import { makeIpcStream, makeNdjson, TEST_TOPIC_SCHEMA } from '../helpers/arrow.ts'
import errorsPlugin from '../../plugins/app/errors.ts'
import metricsPlugin from '../../plugins/external/metrics.ts'
import { createLocalIssuer } from '../../src/auth/local-keys.ts'
import { loadConfig } from '../../config/load.ts'
import { preparedDataDir } from './lib/tokens.ts'

const BAD_TOKEN_BODY = { statusCode: 401, code: 'QUIVER_UNAUTHORIZED', error: 'Unauthorized', message: 'Missing or invalid bearer token' }

/** The parts of a JWT worth grepping for: the whole token, its signature and its payload segment. */
function secretsOf (token: string): string[] {
  const [, payload, sig] = token.split('.')
  return [token, sig, payload].filter((s) => s !== undefined && s.length >= 16)
}

t.test('tokens never reach the logs (LOG_LEVEL=debug) nor error bodies, whichever way they are sent', async (t) => {
  const { dataDir, token, issuer } = preparedDataDir(t)
  const gw = await startGateway(t, { DATA_DIR: dataDir, LOG_LEVEL: 'debug', FLUSH_INTERVAL_MS: '100' }, { timeoutMs: 60_000 })
  const admin = token(['admin'], 'log-admin')
  const writer = token(['write'], 'log-writer')
  const reader = token(['read'], 'log-reader')
  // Expired an hour ago: beyond the 60 s clock skew the verifier allows.
  const expired = createLocalIssuer(issuer.keys, 'boilstream', () => Date.now() - 3_600_000).mint({ subject: 'old', roles: ['write'], ttlSeconds: 60 }).token
  const tampered = writer.slice(0, -6) + (writer.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA')
  const forged = `${writer.split('.')[0]}.${Buffer.from('{"iss":"quiver-local","sub":"x"}').toString('base64url')}.${writer.split('.')[2]}`
  const all = [admin, writer, reader, expired, tampered, forged]
  const bodies: string[] = []
  const call = async (path: string, init: RequestInit = {}): Promise<Response> => {
    const res = await fetch(`${gw.url}${path}`, init)
    bodies.push(await res.clone().text())
    return res
  }

  t.equal((await call('/v1/topics', { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'logs', schema: TEST_TOPIC_SCHEMA }) })).status, 201)
  t.equal((await call('/v1/topics/logs/records', { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/x-ndjson' }, body: makeNdjson(3) })).status, 200)
  t.equal((await call('/v1/whoami', { headers: { authorization: `Bearer ${reader}` } })).status, 200)
  t.equal((await call('/v1/topics/logs/records', { method: 'POST', headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/x-ndjson' }, body: makeNdjson(1) })).status, 403)
  for (const bad of [expired, tampered, forged, `${writer}x`, 'garbage.token.value-that-is-long-enough']) {
    const res = await call('/v1/whoami', { headers: { authorization: `Bearer ${bad}` } })
    t.equal(res.status, 401)
    t.same(JSON.parse(bodies.at(-1)!), BAD_TOKEN_BODY)
  }
  // access_token in the query of a plain request is not a credential here (WebSocket upgrades only) and is still never logged.
  t.equal((await call(`/v1/whoami?access_token=${reader}`)).status, 401)
  t.equal((await call(`/v1/whoami?x=1&access_token=${tampered}&y=2`)).status, 401)
  // Percent-encoded parameter names decode to access_token too.
  t.equal((await call(`/v1/whoami?access%5Ftoken=${reader}`)).status, 401)
  t.equal((await call(`/nope?access_token=${admin}`)).status, 404)

  // WebSocket: subprotocol bearer.<jwt> and ?access_token=, good and bad.
  const wsBase = gw.url.replace('http', 'ws')
  const viaProtocol = await connect(`${wsBase}/v1/topics/logs/stream`, ['quiver.v1', `bearer.${writer}`])
  t.equal(viaProtocol.protocol, 'quiver.v1', 'the token subprotocol is never echoed')
  viaProtocol.send(makeIpcStream(2))
  await new Promise((resolve) => viaProtocol.once('message', resolve))
  viaProtocol.close()
  const viaQuery = await connect(`${wsBase}/v1/topics/logs/stream?access_token=${writer}`)
  viaQuery.close()
  const viaEncodedQuery = await connect(`${wsBase}/v1/topics/logs/stream?access%5Ftoken=${writer}`).catch((err: { status?: number }) => err)
  if ('close' in viaEncodedQuery) viaEncodedQuery.close()
  for (const bad of [tampered, expired]) {
    const refusal = await connect(`${wsBase}/v1/topics/logs/stream`, ['quiver.v1', `bearer.${bad}`]).catch((err: { status: number, body: unknown }) => err)
    t.match(refusal, { status: 401, body: BAD_TOKEN_BODY })
    const refusalQ = await connect(`${wsBase}/v1/topics/logs/stream?access_token=${bad}`).catch((err: { status: number, body: unknown }) => err)
    t.match(refusalQ, { status: 401, body: BAD_TOKEN_BODY })
  }

  gw.kill('SIGTERM')
  t.equal(await gw.exited, 0)
  const logs = gw.stdout() + gw.stderr()
  t.match(logs, /"auth":"rejected"/, 'debug logging of auth decisions was on')
  t.match(logs, /"reason":"expired"/, 'the rejection reason is logged')
  t.match(logs, /access_token=\[redacted\]/, 'query tokens are redacted in request logs')
  const leaks: string[] = []
  for (const secret of all.flatMap(secretsOf)) {
    const line = logs.split('\n').find((l) => l.includes(secret))
    if (line !== undefined) leaks.push(`log line leaks ${secret.length} chars: ${line.replaceAll(secret, '<SECRET>').slice(0, 300)}`)
    if (bodies.some((b) => b.includes(secret))) leaks.push(`a response body contains ${secret.slice(0, 12)}…`)
  }
  t.same(leaks, [], 'no token, payload segment or signature in logs or bodies')
})

t.test('CORS: closed by default, opened for the origins in CORS_ORIGINS only', async (t) => {
  const preflight = { method: 'OPTIONS' as const, url: '/v1/topics', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } }
  const closed = await buildApp(t)
  const pre = await closed.app.inject(preflight)
  t.equal(pre.headers['access-control-allow-origin'], undefined)
  t.equal(pre.headers['access-control-allow-headers'], undefined)
  const simple = await closed.app.inject({ url: '/healthz', headers: { origin: 'https://app.example' } })
  t.equal(simple.statusCode, 200)
  t.equal(simple.headers['access-control-allow-origin'], undefined)

  const open = await buildApp(t, { CORS_ORIGINS: 'https://app.example, https://other.example' })
  const ok = await open.app.inject(preflight)
  t.equal(ok.statusCode, 204)
  t.equal(ok.headers['access-control-allow-origin'], 'https://app.example')
  t.match(String(ok.headers['access-control-allow-headers']).toLowerCase(), /authorization/)
  t.match(String(ok.headers['access-control-allow-methods']), /POST/)
  t.equal(ok.headers['access-control-allow-credentials'], undefined, 'no credentialed CORS: tokens ride in headers')
  const evil = await open.app.inject({ ...preflight, headers: { ...preflight.headers, origin: 'https://evil.example' } })
  t.equal(evil.headers['access-control-allow-origin'], undefined)
  const get = await open.app.inject({ url: '/v1/whoami', headers: { origin: 'https://other.example' } })
  t.equal(get.statusCode, 401)
  t.equal(get.headers['access-control-allow-origin'], 'https://other.example', 'errors are readable cross-origin too')
  t.match(String(get.headers['access-control-expose-headers']), /WWW-Authenticate/)
  t.match(String(get.headers['access-control-expose-headers']), /Idempotent-Replayed/, 'a browser can tell a replay')
  // a browser's keyed ingest and a schema evolution pass their preflights (before: refused, no PATCH, no Idempotency-Key)
  const keyed = await open.app.inject({ method: 'OPTIONS', url: '/v1/topics/t/records', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,idempotency-key' } })
  t.match(String(keyed.headers['access-control-allow-headers']).toLowerCase(), /idempotency-key/)
  const patch = await open.app.inject({ method: 'OPTIONS', url: '/v1/topics/t', headers: { origin: 'https://app.example', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization,content-type' } })
  t.match(String(patch.headers['access-control-allow-methods']), /PATCH/)
})

t.test('security headers: strict CSP on /console and the API, swagger-ui still allowed its inline styles on /docs', async (t) => {
  const { app } = await buildApp(t)
  const page = await app.inject({ url: '/console' })
  t.equal(page.statusCode, 200)
  const csp = String(page.headers['content-security-policy'])
  for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "object-src 'none'", "frame-ancestors 'none'"]) {
    t.match(csp, directive, `/console CSP has ${directive}`)
  }
  t.notMatch(csp, /unsafe-inline|unsafe-eval|\*/, 'no inline code, no wildcards on the console')
  t.equal(page.headers['x-content-type-options'], 'nosniff')
  t.equal(page.headers['x-frame-options'], 'DENY')
  t.equal(page.headers['referrer-policy'], 'no-referrer')
  // Every script/style the page loads is same-origin, so the CSP lets it load.
  const refs = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).filter((u) => !u.startsWith('data:'))
  t.ok(refs.length >= 2)
  for (const ref of refs) {
    t.ok(ref.startsWith('/'), `${ref} is same-origin`)
    t.equal((await app.inject({ url: ref })).statusCode, 200, `${ref} is served`)
  }
  t.notMatch(page.body, /<script>[^<]|<style>|\sstyle="|\son[a-z]+="/, 'no inline script, style or handler the CSP would block')

  const api = await app.inject({ url: '/v1/whoami' })
  t.match(String(api.headers['content-security-policy']), "default-src 'self'")
  t.equal(api.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP')

  const docs = await app.inject({ url: '/docs/' })
  t.equal(docs.statusCode, 200)
  const docsCsp = String(docs.headers['content-security-policy'])
  t.match(docsCsp, "script-src 'self'")
  t.match(docsCsp, /style-src 'self' 'unsafe-inline'/)
  t.notMatch(docs.body, /<script>[^<]/, 'swagger-ui loads scripts from files only')
})

t.test('5xx bodies hide internals', async (t) => {
  // A route that throws an internal error cannot be produced through the real app on purpose:
  // this mounts the real error plugin on a bare instance with one throwing route.
  const app = Fastify({ logger: false })
  app.decorate('config', loadConfig({})) // the metrics plugin reads its variables (defaults here)
  await app.register(metricsPlugin)
  await app.register(fp(errorsPlugin))
  app.get('/boom', async () => { throw new Error('ECONNREFUSED 10.1.2.3:5432 password=hunter2 at /srv/quiver/src/secret.ts:42') })
  const res = await app.inject({ url: '/boom' })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, code: 'QUIVER_INTERNAL', error: 'Internal Server Error', message: 'Internal server error' })
  await app.close()

  // Real storage failure through the real gateway: S3 endpoint that refuses connections.
  const { dataDir, token } = preparedDataDir(t)
  const gw = await startGateway(t, { DATA_DIR: dataDir, S3_BUCKET: 'nowhere', S3_ENDPOINT: 'http://127.0.0.1:9', S3_FORCE_PATH_STYLE: 'true', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', FLUSH_INTERVAL_MS: '50' }, { timeoutMs: 60_000 })
  const res2 = await fetch(`${gw.url}/v1/topics/hidden/records`, { method: 'POST', headers: { authorization: `Bearer ${token(['write'])}`, 'content-type': 'application/vnd.apache.arrow.stream' }, body: Buffer.from(makeIpcStream(2)) })
  const text = await res2.text()
  t.equal(res2.status, 503)
  t.notMatch(text, /127\.0\.0\.1|ECONNREFUSED|nowhere|stack|at \//, `no internals in ${text}`)
  t.match(JSON.parse(text), { statusCode: 503, code: /^QUIVER_(STORAGE_UNAVAILABLE|AUTH_UNAVAILABLE|OVERLOADED)$/ })
  t.ok(res2.headers.get('retry-after'))
})
