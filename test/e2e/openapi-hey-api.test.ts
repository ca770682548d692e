import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createClient } from '@hey-api/openapi-ts'
import { tableFromIPC } from 'apache-arrow'
import t from 'tap'
import { buildApp } from '../helpers/app.ts'
import { TEST_TOPIC_SCHEMA, makeIpcStream, testRow } from '../helpers/arrow.ts'

// A second generator the project does not otherwise use. @hey-api/openapi-ts
// writes a fetch client and an SDK (one function per operationId) from the served /openapi.json;
// the test imports the generated files as written and calls them, nothing patched.
const dir = mkdtempSync(join(tmpdir(), 'quiver-hey-api-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const { app } = await buildApp(t, { AUTH_PROVIDERS: 'local' })
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as { port: number }
const baseUrl = `http://127.0.0.1:${port}`
const token = app.localTokens!.mint({ subject: 'hey-api-client', roles: ['admin'], ttlSeconds: 600 }).token

interface Result<T = unknown> { data: T, error?: unknown, response: Response }
type Call = (options: Record<string, unknown>) => Promise<Result>
interface Sdk { client: { setConfig: (c: Record<string, unknown>) => void, getConfig: () => { baseUrl: string } }, createTopic: Call, ingestRecords: Call, listFiles: Call, readRecords: Call, getTopic: Call }

t.test('@hey-api/openapi-ts: the generated SDK creates a topic, sends JSON, NDJSON and Arrow, lists files and reads records', async (t) => {
  const doc = await (await fetch(`${baseUrl}/openapi.json`)).text()
  writeFileSync(join(dir, 'openapi.json'), doc)
  await createClient({ input: join(dir, 'openapi.json'), output: join(dir, 'generated'), plugins: ['@hey-api/client-fetch', '@hey-api/sdk'], logs: { level: 'silent' } })
  const sdk = await import(pathToFileURL(join(dir, 'generated', 'index.ts')).href) as Sdk
  const { client } = await import(pathToFileURL(join(dir, 'generated', 'client.gen.ts')).href) as Pick<Sdk, 'client'>
  // No baseUrl given: the generator took it from the document's servers entry (this gateway).
  client.setConfig({ auth: token })
  t.equal(client.getConfig().baseUrl, baseUrl)

  const created = await sdk.createTopic({ body: { name: 'hey', schema: TEST_TOPIC_SCHEMA } })
  t.equal(created.response.status, 201)
  t.match(created.data, { name: 'hey', schema: TEST_TOPIC_SCHEMA })

  // The JSON array body is the SDK's default (its JSON serializer).
  const json = await sdk.ingestRecords({ path: { topic: 'hey' }, body: [testRow(10), testRow(11)] })
  t.match(json.data, { topic: 'hey', rows: 2, batches: 1, ack: 'durable' })
  // NDJSON and Arrow: the same operation, the body sent as given (the client's bodySerializer: null option).
  const ndjson = await sdk.ingestRecords({
    path: { topic: 'hey' },
    query: { ack: 'durable' },
    body: JSON.stringify(testRow(20)) + '\n' + JSON.stringify(testRow(21)) + '\n',
    bodySerializer: null,
    headers: { 'Content-Type': 'application/x-ndjson' }
  })
  t.match(ndjson.data, { topic: 'hey', rows: 2, ack: 'durable' })
  const arrow = await sdk.ingestRecords({
    path: { topic: 'hey' },
    body: new Blob([new Uint8Array(makeIpcStream(3))]),
    bodySerializer: null,
    headers: { 'Content-Type': 'application/vnd.apache.arrow.stream' }
  })
  t.match(arrow.data, { topic: 'hey', rows: 3, ack: 'durable' })

  const files = await sdk.listFiles({ path: { topic: 'hey' } }) as Result<{ files: Array<{ key: string, rows: number }> }>
  t.equal(files.data.files.reduce((n, f) => n + f.rows, 0), 7, `${files.data.files.length} objects hold the 7 rows`)

  const nd = await sdk.readRecords({ path: { topic: 'hey' }, headers: { Accept: 'application/x-ndjson' } }) as Result<Blob>
  t.equal(nd.response.headers.get('content-type'), 'application/x-ndjson')
  const lines = (await nd.data.text()).trim().split('\n').map((l) => JSON.parse(l) as { id: number, name: string })
  t.same(lines.map((l) => l.id).sort((a, b) => a - b), [0, 1, 2, 10, 11, 20, 21])
  t.same(lines.find((l) => l.id === 20)!.name, 'name-20')

  const asArrow = await sdk.readRecords({ path: { topic: 'hey' }, query: { limit: 5 } }) as Result<Blob>
  const table = tableFromIPC(new Uint8Array(await asArrow.data.arrayBuffer()))
  t.equal(table.numRows, 5, 'limit honoured')
  t.same(table.schema.fields.map((f) => f.name), ['id', 'name', 'price', 'ts', 'ok', '__ingested_at'])

  const missing = await sdk.getTopic({ path: { topic: 'nope' } })
  t.equal(missing.response.status, 404)
  t.same(missing.error, { statusCode: 404, code: 'QUIVER_TOPIC_NOT_FOUND', error: 'Not Found', message: 'Topic "nope" does not exist' })
})
