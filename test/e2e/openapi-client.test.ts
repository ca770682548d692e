import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import openapiTS, { astToString } from 'openapi-typescript'
import t from 'tap'
import { buildApp } from '../helpers/app.ts'
import { typecheck } from './typecheck.ts'
import { CLIENT_SOURCE, MISUSE_SOURCE } from './openapi-client-source.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const OUT = join(ROOT, 'test', 'fixtures', 'generated')

t.test('a client generated from /openapi.json type-checks and drives the gateway', async t => {
  const { app } = await buildApp(t, { AUTH_PROVIDERS: 'local' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const baseUrl = `http://127.0.0.1:${port}`
  const token = app.localTokens!.mint({ subject: 'openapi-client', roles: ['admin'], ttlSeconds: 600 }).token

  const doc = await (await fetch(`${baseUrl}/openapi.json`)).json()
  t.equal(doc.openapi.slice(0, 3), '3.1')
  t.same(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
  mkdirSync(OUT, { recursive: true })
  writeFileSync(join(OUT, 'quiver.d.ts'), astToString(await openapiTS(doc)))
  writeFileSync(join(OUT, 'client.ts'), CLIENT_SOURCE)
  writeFileSync(join(OUT, 'misuse.ts'), MISUSE_SOURCE)

  const good = await typecheck(OUT, 'client.ts')
  t.ok(good.ok, `the client type-checks against the generated types\n${good.output}`)
  // The types must be real: wrong paths, bodies and fields are compile errors.
  const bad = await typecheck(OUT, 'misuse.ts')
  t.notOk(bad.ok, 'misuse fails to type-check')
  for (const line of [4, 6, 8, 10]) t.match(bad.output, new RegExp(`misuse\\.ts\\(${line},`), `misuse line ${line} is an error`)

  const client = await import(pathToFileURL(join(OUT, 'client.ts')).href) as typeof import('./openapi-client-shape.ts')
  const q = client.quiver(baseUrl, token)
  const fields = [
    { name: 'id', type: 'int64', nullable: false },
    { name: 'name', type: 'string', nullable: true },
    { name: 'score', type: 'double', nullable: true }
  ]

  const created = await q.createTopic('generated', fields)
  t.equal(created.status, 201)
  t.same(created.body, { name: 'generated', schema: { fields }, createdAt: created.body.createdAt })
  t.ok(Date.parse(created.body.createdAt) > Date.now() - 60_000)

  const again = await q.createTopic('generated', fields)
  t.same({ status: again.status, body: again.error }, {
    status: 409,
    body: { statusCode: 409, code: 'QUIVER_TOPIC_EXISTS', error: 'Conflict', message: 'Topic "generated" already exists' }
  })

  const rows = [{ id: 1, name: 'one', score: 0.5 }, { id: 2, name: null, score: 2 }, { id: 3, name: 'three', score: null }]
  const ingested = await q.ingestJson('generated', rows)
  t.same(ingested, { status: 200, body: { topic: 'generated', rows: 3, batches: 1, bytes: Buffer.byteLength(JSON.stringify(rows)), ack: 'durable' } })

  const flushed = await q.flush()
  t.same(flushed, { status: 200, body: { flushed: 0 } }, 'durable ingest already committed everything')

  const files = await q.files('generated')
  t.equal(files.status, 200)
  t.equal(files.body.files.length, 1)
  const [file] = files.body.files
  t.same(file, { key: file.key, bytes: file.bytes, rows: 3, createdAt: file.createdAt })
  t.match(file.key, /^generated\/year=\d{4}\/month=\d\d\/day=\d\d\/hour=\d\d\/[\w-]+\.parquet$/)
  t.ok(file.bytes > 0)

  const topic = await q.topic('generated')
  t.same(topic, {
    status: 200,
    body: { name: 'generated', schema: { fields }, createdAt: created.body.createdAt, schemaVersion: 1, evolution: 'additive', partitionBy: [], timePartition: { field: '__ingested_at', granularity: 'hour' }, stats: { rows: 3, bytes: file.bytes, files: 1, lastFlushAt: topic.body.stats.lastFlushAt } }
  })
})
