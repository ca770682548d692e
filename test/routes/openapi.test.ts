import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import WebSocket from 'ws'
import t from 'tap'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'

/** CONTRACT.md §5, row by row, in OpenAPI's path syntax. */
const CONTRACT_ROUTES = [
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /openapi.json',
  'GET /docs',
  'GET /v1/whoami',
  'POST /v1/topics',
  'GET /v1/topics',
  'GET /v1/topics/{topic}',
  'DELETE /v1/topics/{topic}',
  'PATCH /v1/topics/{topic}',
  'POST /v1/topics/{topic}/records',
  'GET /v1/topics/{topic}/stream',
  'GET /v1/topics/{topic}/tail',
  'GET /v1/topics/{topic}/files',
  'GET /v1/topics/{topic}/records',
  'POST /v1/admin/flush',
  'GET /v1/admin/stats',
  'DELETE /v1/admin/tokens/{jti}'
]
/** Beside the table: the console (README's route table), token minting (CONTRACT §3), the local provider's key. */
const OTHER_ROUTES = ['GET /console', 'POST /v1/admin/tokens', 'GET /.well-known/jwks.json']

interface Operation {
  operationId?: string
  description?: string
  security?: Array<Record<string, string[]>>
  parameters?: Array<{ in: string, name: string, required?: boolean, schema?: Record<string, unknown> }>
  responses: Record<string, { description: string, headers?: Record<string, { schema: Record<string, unknown> }>, content?: Record<string, { schema: Record<string, unknown> }> }>
}
interface Doc { openapi: string, components: { securitySchemes: Record<string, Record<string, unknown>> }, paths: Record<string, Record<string, Operation>> }

const { app, dataDir } = await buildApp(t)
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as AddressInfo
const served = await app.inject({ method: 'GET', url: '/openapi.json' })
const doc = served.json() as Doc
const operation = (key: string): Operation | undefined => {
  const [method, path] = key.split(' ')
  return doc.paths[path]?.[method.toLowerCase()]
}

t.test('openapi document is 3.1 with the bearer scheme', async (t) => {
  t.equal(served.statusCode, 200)
  t.match(served.headers['content-type'], /^application\/json/)
  t.equal(doc.openapi, '3.1.0')
  t.same(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
  t.match(doc.components.securitySchemes, {
    accessTokenQuery: { type: 'apiKey', in: 'query', name: 'access_token' },
    metricsToken: { type: 'http', scheme: 'bearer' }
  })
})

t.test('every route of the contract\'s table is an operation, with its method; every operation is a route', async (t) => {
  for (const key of [...CONTRACT_ROUTES, ...OTHER_ROUTES]) {
    t.type(operation(key)?.operationId, 'string', `${key} is in the document`)
  }
  const listed = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`))
  t.same(listed.sort(), [...CONTRACT_ROUTES, ...OTHER_ROUTES].sort(), 'nothing else (no /docs/ twin, no console assets)')
  for (const key of listed) {
    const [method, path] = key.split(' ')
    t.ok(app.hasRoute({ method: method as 'GET', url: path.replace(/\{(\w+)\}/g, ':$1') }), `${key} is served`)
  }
})

t.test('pages, metrics and the document: each answers with the media type and security the document gives it', async (t) => {
  const pages: Array<[string, string, string]> = [
    ['GET /metrics', 'text/plain', 'quiver_http_requests_total'],
    ['GET /openapi.json', 'application/json', '"openapi":"3.1.0"'],
    ['GET /docs', 'text/html', 'swagger-ui'],
    ['GET /console', 'text/html', '<html']
  ]
  for (const [key, type, sample] of pages) {
    const op = operation(key)!
    t.same(Object.keys(op.responses['200'].content ?? {}), [type], `${key}: ${type}`)
    const res = await app.inject({ method: 'GET', url: key.split(' ')[1] })
    t.equal(res.statusCode, 200, key)
    t.equal(String(res.headers['content-type']).split(';')[0], type, `${key} serves ${type}`)
    t.match(res.body, sample, `${key} body`)
    t.same(op.security, key === 'GET /metrics' ? [{}, { metricsToken: [] }] : [], `${key}: security`)
  }
  t.same(operation('GET /console')!.responses['304'], { description: 'Not Modified: If-None-Match matched the page\'s ETag' })
})

t.test('/metrics with METRICS_TOKEN set answers the documented 401', async (t) => {
  const op = operation('GET /metrics')!
  t.same(op.responses['401'].headers, { 'WWW-Authenticate': { schema: { type: 'string', enum: ['Bearer error="invalid_token"'] } } })
  t.same(Object.keys(op.responses['401'].content!), ['application/json'])
  const { app: guarded } = await buildApp(t, { METRICS_TOKEN: 'a-scraper-secret-of-32-characters' })
  const res = await guarded.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"')
  t.match(res.headers['content-type'], /^application\/json/)
  t.same(Object.keys(res.json()).sort(), (op.responses['401'].content!['application/json'].schema.required as string[]).sort())
  const ok = await guarded.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer a-scraper-secret-of-32-characters' } })
  t.equal(ok.statusCode, 200)
})

t.test('answers from outside the handlers are documented where they happen: a bad topic name, the rate limit, headers too large, a body too slow', async (t) => {
  // Found from outside: each was answered but missing from the document.
  const v1 = Object.entries(doc.paths).filter(([path]) => path.startsWith('/v1/')).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
  for (const key of v1) {
    t.ok(['429', '431'].every((s) => s in operation(key)!.responses), `${key}: 429 and 431`)
    if (key.includes('{topic}')) t.ok('400' in operation(key)!.responses, `${key}: 400`)
  }
  t.same(operation('GET /v1/topics')!.responses['429'].headers, { 'Retry-After': { description: 'seconds to wait', schema: { type: 'integer' } } })
  t.ok('408' in operation('POST /v1/topics/{topic}/records')!.responses)

  const limited = await buildApp(t, { RATE_LIMIT_MAX: '1' })
  const reader = localToken(limited.dataDir, ['read'])
  const ask = (url: string) => limited.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${reader}` } })
  const badName = await ask('/v1/topics/Not_A_Name')
  t.same([badName.statusCode, badName.json().code], [400, 'QUIVER_INVALID_TOPIC_NAME'])
  await ask('/v1/topics')
  const over = await ask('/v1/topics')
  t.same([over.statusCode, over.json().code, Number(over.headers['retry-after']) > 0], [429, 'QUIVER_RATE_LIMITED', true])
  await limited.app.listen({ port: 0, host: '127.0.0.1' })
  const big = await fetch(`http://127.0.0.1:${(limited.app.server.address() as AddressInfo).port}/v1/topics`, { headers: { 'x-filler': 'x'.repeat(64 * 1024) } })
  t.same([big.status, (await big.json()).code], [431, 'QUIVER_HEADERS_TOO_LARGE'])
  const schema = operation('GET /v1/topics')!.responses['431'].content!['application/json'].schema
  t.same(Object.keys(badName.json()).sort(), (schema.required as string[]).sort(), 'the bodies have the documented shape')
})

t.test('WebSocket routes are their GET upgrade: 101, the three token places, the message protocol', async (t) => {
  const protocol: Record<string, string[]> = {
    'GET /v1/topics/{topic}/stream': ['{"type":"ack","seq":n,"rows":r}', '{"type":"error","seq":n,"code":"QUIVER_…","message":"…"}', '{"type":"key","key":"<Idempotency-Key>"}', '1009', '1008'],
    'GET /v1/topics/{topic}/tail': ['one complete Arrow IPC stream', '__ingested_at', '1013', '1008']
  }
  for (const [key, messages] of Object.entries(protocol)) {
    const op = operation(key)!
    t.same(Object.keys(op.responses), ['101', '400', '401', '403', '404', '426', '429', '431', '503'], `${key}: responses`)
    t.same(op.responses['101'].content, undefined, `${key}: 101 has no body`)
    // a plain GET was @fastify/websocket's bare 404 (no body, no code)
    const plain = await app.inject({ method: 'GET', url: key.split(' ')[1].replace('{topic}', 'events'), headers: { authorization: `Bearer ${localToken(dataDir, ['admin'])}` } })
    t.same([plain.statusCode, plain.json()], [426, { statusCode: 426, code: 'QUIVER_UPGRADE_REQUIRED', error: 'Upgrade Required', message: 'This route is a WebSocket: open it with a GET carrying Upgrade: websocket' }], `${key}: a plain GET is 426`)
    t.same(op.responses['101'].headers!['Sec-WebSocket-Protocol'].schema, { type: 'string', enum: ['quiver.v1'] })
    t.same(op.security, [{ bearerAuth: [] }, { accessTokenQuery: [] }], `${key}: header or ?access_token=`)
    const headers = Object.fromEntries(op.parameters!.filter((p) => p.in === 'header').map((p) => [p.name, p.required]))
    t.same(headers, { Upgrade: true, Connection: true, 'Sec-WebSocket-Key': true, 'Sec-WebSocket-Version': true, 'Sec-WebSocket-Protocol': false }, `${key}: handshake headers`)
    t.same(op.parameters!.filter((p) => p.in === 'path').map((p) => p.name), ['topic'])
    for (const text of ['`Authorization: Bearer <jwt>`', '`bearer.<jwt>`', '`?access_token=<jwt>`', '`101 Switching Protocols`', ...messages]) {
      t.ok(op.description!.includes(text), `${key} describes ${text}`)
    }
  }

  // What the document promises is what the handshake answers.
  const reader = localToken(dataDir, ['read'])
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/topics/documented/tail?access_token=${reader}`, ['quiver.v1'])
  const [res] = await new Promise<[IncomingMessage]>((resolve, reject) => {
    ws.once('upgrade', (r) => resolve([r]))
    ws.once('error', reject)
  })
  t.equal(res.statusCode, 101)
  t.match(res.headers, { upgrade: 'websocket', connection: /upgrade/i, 'sec-websocket-protocol': 'quiver.v1' })
  t.type(res.headers['sec-websocket-accept'], 'string')
  ws.close()
})

async function lint (dir: string, name: string, document: unknown) {
  const file = join(dir, name)
  writeFileSync(file, JSON.stringify(document))
  const redocly = join(import.meta.dirname, '..', '..', 'node_modules', '@redocly', 'cli', 'bin', 'cli.js')
  const run = await promisify(execFile)(process.execPath, [redocly, 'lint', file, '--format', 'json'], { maxBuffer: 16 << 20 })
    .catch((err: { stdout: string }) => err)
  return JSON.parse(run.stdout) as { totals: { errors: number }, problems: Array<{ ruleId: string, severity: string, message: string }> }
}

t.test('the served document validates (Redocly: OpenAPI 3.1 structure and rules)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-openapi-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // The same check on a copy with an invalid operation shows the structural rule is in force.
  const broken = structuredClone(doc) as unknown as { paths: Record<string, Record<string, Record<string, unknown>>> }
  broken.paths['/v1/topics/{topic}/tail'].get.responses = { 101: { content: 'text/html' } }
  const [report, control] = await Promise.all([lint(dir, 'openapi.json', doc), lint(dir, 'broken.json', broken)])
  t.same(report.problems.filter((p) => p.severity === 'error'), [], 'no errors')
  t.equal(report.totals.errors, 0)
  t.ok(control.problems.some((p) => p.ruleId === 'struct' && p.severity === 'error'), 'a malformed response is an error')
})
