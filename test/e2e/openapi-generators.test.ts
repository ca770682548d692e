import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { tableFromIPC } from 'apache-arrow'
import SwaggerClient from 'swagger-client'
import t from 'tap'
import { buildApp } from '../helpers/app.ts'
import { TEST_TOPIC_SCHEMA, makeIpcStream } from '../helpers/arrow.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const dir = mkdtempSync(join(tmpdir(), 'quiver-openapi-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const { app } = await buildApp(t, { AUTH_PROVIDERS: 'local' })
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as { port: number }
const baseUrl = `http://127.0.0.1:${port}`
const token = app.localTokens!.mint({ subject: 'generated-client', roles: ['admin'], ttlSeconds: 600 }).token
type Doc = { servers: unknown, paths: Record<string, Record<string, { operationId?: string, security?: unknown[], parameters?: Array<{ name: string, required?: boolean }>, requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }, responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }> }>> }
const doc = await (await fetch(`${baseUrl}/openapi.json`)).json() as Doc

t.test('every operation is named, public ones need no token, binary bodies say so, defaults are optional', async (t) => {
  const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => ({ key: `${m.toUpperCase()} ${path}`, op })))
  const ids = ops.map((o) => o.op.operationId)
  t.equal(new Set(ids).size, ops.length, 'one unique operationId each')
  t.match(Object.fromEntries(ops.map((o) => [o.key, o.op.operationId])), {
    'POST /v1/topics': 'createTopic',
    'GET /v1/topics': 'listTopics',
    'POST /v1/topics/{topic}/records': 'ingestRecords',
    'GET /v1/topics/{topic}/records': 'readRecords',
    'GET /v1/topics/{topic}/files': 'listFiles',
    'GET /healthz': 'checkLiveness'
  })
  t.same(doc.servers, [{ url: baseUrl, description: 'this gateway' }])
  t.same(doc.paths['/healthz'].get.security, [])
  t.same(doc.paths['/v1/topics'].get.security, [{ bearerAuth: [] }])
  const ingest = doc.paths['/v1/topics/{topic}/records'].post
  t.same(Object.keys(ingest.requestBody!.content).sort(), ['application/json', 'application/vnd.apache.arrow.file', 'application/vnd.apache.arrow.stream', 'application/x-ndjson'])
  t.equal(ingest.requestBody!.content['application/vnd.apache.arrow.stream'].schema.format, 'binary')
  t.equal(ingest.parameters!.find((p) => p.name === 'ack')!.required, false)
  const read = doc.paths['/v1/topics/{topic}/records'].get
  t.equal(read.parameters!.find((p) => p.name === 'limit')!.required, false)
  t.same(Object.values(read.responses['200'].content!).map((c) => c.schema.format), ['binary', 'binary'])
})

t.test('Redocly lints the served document with no error', async (t) => {
  const file = join(dir, 'openapi.json')
  writeFileSync(file, JSON.stringify(doc))
  const redocly = join(ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js')
  const run = await promisify(execFile)(process.execPath, [redocly, 'lint', file, '--format', 'json'], { maxBuffer: 16 << 20 }).catch((err: { stdout: string, code: number }) => err)
  const report = JSON.parse(run.stdout) as { totals: { errors: number, warnings: number }, problems: Array<{ ruleId: string, severity: string, message: string }> }
  t.same(report.problems.filter((p) => p.severity === 'error'), [], 'no errors')
  t.equal(report.totals.errors, 0)
})

t.test('swagger-client calls operations by operationId: create, NDJSON, Arrow, files, records', async (t) => {
  const client = await SwaggerClient({ url: `${baseUrl}/openapi.json`, authorizations: { bearerAuth: { value: token } } })
  const created = await client.execute({
    operationId: 'createTopic',
    requestBody: { name: 'generated', schema: TEST_TOPIC_SCHEMA }
  })
  t.equal(created.status, 201)
  const nd = await client.execute({
    operationId: 'ingestRecords',
    parameters: { topic: 'generated' },
    requestContentType: 'application/x-ndjson',
    requestBody: '{"id":100,"name":"nd","price":1.25,"ts":"2026-01-01T00:00:00.000001Z","ok":true}\n'
  })
  t.match(nd.body, { topic: 'generated', rows: 1, batches: 1, ack: 'durable' })
  const arrow = await client.execute({
    operationId: 'ingestRecords',
    parameters: { topic: 'generated' },
    requestContentType: 'application/vnd.apache.arrow.stream',
    requestBody: new Blob([new Uint8Array(makeIpcStream(3))])
  })
  t.match(arrow.body, { topic: 'generated', rows: 3, ack: 'durable' })
  const files = await client.execute({ operationId: 'listFiles', parameters: { topic: 'generated' } })
  t.equal(files.body.files.reduce((n: number, f: { rows: number }) => n + f.rows, 0), 4)
  const rows = await client.execute({ operationId: 'readRecords', parameters: { topic: 'generated' }, responseContentType: 'application/x-ndjson' })
  const lines = String(rows.text ?? rows.data).trim().split('\n').map((l) => JSON.parse(l) as { id: number })
  t.same(lines.map((l) => l.id).sort((a, b) => a - b), [0, 1, 2, 100])
  const asArrow = await fetch(`${baseUrl}/v1/topics/generated/records`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(tableFromIPC(new Uint8Array(await asArrow.arrayBuffer())).numRows, 4)
})

t.test('Accept: application/json on /records is 406, not Arrow bytes', async (t) => {
  const res = await fetch(`${baseUrl}/v1/topics/generated/records`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } })
  t.equal(res.status, 406)
  t.same(await res.json(), {
    statusCode: 406,
    code: 'QUIVER_NOT_ACCEPTABLE',
    error: 'Not Acceptable',
    message: 'Cannot answer as "application/json"; rows are served as application/vnd.apache.arrow.stream or application/x-ndjson'
  })
  const wildcard = await fetch(`${baseUrl}/v1/topics/generated/records`, { headers: { authorization: `Bearer ${token}`, accept: 'text/html, */*;q=0.8' } })
  t.equal(wildcard.headers.get('content-type'), 'application/vnd.apache.arrow.stream')
})
