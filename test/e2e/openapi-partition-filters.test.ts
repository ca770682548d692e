import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import openapiTS, { astToString } from 'openapi-typescript'
import t from 'tap'
import { buildApp } from '../helpers/app.ts'
import { typecheck } from './typecheck.ts'

// The partition filters of GET …/files and GET …/records (README "Partitions": `?tenant=acme&day=2`)
// are named after each topic's partition columns. The served document declares them as one
// free-form query object sent exploded (`style: form`), so a client generated from it passes them
// typed, without a cast, and the gateway reads them as it always did.

const ROOT = join(import.meta.dirname, '..', '..')
// Beside the other generated client (gitignored), in a folder of its own: tsc resolves openapi-fetch from the checkout.
const OUT = join(ROOT, 'test', 'fixtures', 'generated', 'partition-filters')

const CLIENT = `import createClient from 'openapi-fetch'
import type { paths } from './quiver.d.ts'

export function filtered (baseUrl: string, token: string) {
  // The document says how: an object parameter of style form, exploded (each key a parameter of its own).
  const api = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${token}\` }, querySerializer: { object: { style: 'form', explode: true } } })
  return {
    async files (topic: string, partitions: Record<string, string>) {
      const { data, response } = await api.GET('/v1/topics/{topic}/files', { params: { path: { topic }, query: { partitions } } })
      const keys: string[] = data!.files.map((f) => f.key)
      return { status: response.status, url: response.url, keys }
    },
    async records (topic: string, limit: number, partitions: Record<string, string>) {
      const { data, response } = await api.GET('/v1/topics/{topic}/records', {
        params: { path: { topic }, query: { limit, partitions } },
        headers: { accept: 'application/x-ndjson' },
        parseAs: 'text'
      })
      return { status: response.status, url: response.url, ndjson: data! }
    }
  }
}
`
// Filters are not free-standing query keys, nor anything but strings: the types say so.
const MISUSE = `import createClient from 'openapi-fetch'
import type { paths } from './quiver.d.ts'
const api = createClient<paths>({ baseUrl: 'http://127.0.0.1' })
await api.GET('/v1/topics/{topic}/files', { params: { path: { topic: 'orders' }, query: { partitions: { tenant: 1 } } } })
`

type Parameter = { in: string, name: string, required?: boolean, style?: string, explode?: boolean, description?: string, schema: Record<string, unknown> }

t.test('partition filters are declared in /openapi.json and work through a client generated from it', async (t) => {
  const { app } = await buildApp(t, { AUTH_PROVIDERS: 'local' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const token = app.localTokens!.mint({ subject: 'partition-filters', roles: ['admin'], ttlSeconds: 600 }).token

  const doc = await (await fetch(`${baseUrl}/openapi.json`)).json() as { paths: Record<string, { get: { parameters: Parameter[] } }> }
  const query = (path: string) => doc.paths[path].get.parameters.filter((p) => p.in === 'query')
  for (const path of ['/v1/topics/{topic}/files', '/v1/topics/{topic}/records']) {
    const partitions = query(path).find((p) => p.name === 'partitions')
    t.match(partitions?.description, /partition/, `${path}: the filters are described`)
    t.same({ ...partitions, description: undefined }, {
      in: 'query',
      name: 'partitions',
      required: false,
      style: 'form',
      explode: true,
      description: undefined,
      schema: { type: 'object', additionalProperties: { type: 'string' } }
    }, `${path}: one free-form object of string filters, each key sent as a parameter of its own`)
  }
  t.same(query('/v1/topics/{topic}/files').map((p) => p.name), ['partitions'])
  t.same(query('/v1/topics/{topic}/records').map((p) => p.name), ['from', 'to', 'limit', 'partitions'], 'the fixed parameters are still listed')

  mkdirSync(OUT, { recursive: true })
  writeFileSync(join(OUT, 'quiver.d.ts'), astToString(await openapiTS(doc as never)))
  writeFileSync(join(OUT, 'client.ts'), CLIENT)
  writeFileSync(join(OUT, 'misuse.ts'), MISUSE)
  const good = await typecheck(OUT, 'client.ts')
  t.ok(good.ok, `the filtering client type-checks against the generated types, no cast\n${good.output}`)
  const bad = await typecheck(OUT, 'misuse.ts')
  t.match(bad.output, /misuse\.ts\(4,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/, 'a filter value that is not a string does not type-check')

  const call = (method: string, path: string, body: string, type: string) =>
    fetch(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': type }, body })
  const created = await call('POST', '/v1/topics', JSON.stringify({
    name: 'orders',
    schema: { fields: [{ name: 'tenant', type: 'string', nullable: true }, { name: 'ts', type: 'timestamp[us, tz=UTC]', nullable: false }, { name: 'amount', type: 'double', nullable: true }] },
    partitionBy: ['tenant'],
    timePartition: { field: 'ts', granularity: 'day' }
  }), 'application/json')
  t.equal(created.status, 201)
  const rows = [
    { tenant: 'acme', ts: '2026-01-01T10:00:00Z', amount: 1 },
    { tenant: 'globex', ts: '2026-01-01T11:00:00Z', amount: 2 },
    { tenant: 'acme', ts: '2026-01-02T12:00:00Z', amount: 3 },
    { tenant: 'acme', ts: '2026-01-01T13:00:00Z', amount: 4 }
  ]
  const ingested = await call('POST', '/v1/topics/orders/records', rows.map((r) => JSON.stringify(r)).join('\n'), 'application/x-ndjson')
  t.equal(ingested.status, 200, await ingested.text())

  const client = await import(pathToFileURL(join(OUT, 'client.ts')).href) as {
    filtered: (baseUrl: string, token: string) => {
      files: (topic: string, partitions: Record<string, string>) => Promise<{ status: number, url: string, keys: string[] }>
      records: (topic: string, limit: number, partitions: Record<string, string>) => Promise<{ status: number, url: string, ndjson: string }>
    }
  }
  const api = client.filtered(baseUrl, token)

  const files = await api.files('orders', { tenant: 'acme' })
  t.equal(new URL(files.url).search, '?tenant=acme', 'sent as the README spells it')
  t.equal(files.status, 200)
  t.same(files.keys.map((k) => k.replace(/[^/]+\.parquet$/, '')).sort(), [
    'orders/tenant=acme/year=2026/month=01/day=01/',
    'orders/tenant=acme/year=2026/month=01/day=02/'
  ], 'only the objects of tenant acme')

  const read = await api.records('orders', 10, { tenant: 'acme', day: '1' })
  t.equal(new URL(read.url).search, '?limit=10&tenant=acme&day=1')
  t.equal(read.status, 200)
  const got = read.ndjson.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  t.same(got.map(({ tenant, ts, amount }) => ({ tenant, ts, amount })).sort((a, b) => (a.ts as string) < (b.ts as string) ? -1 : 1), [
    { tenant: 'acme', ts: '2026-01-01T10:00:00.000000Z', amount: 1 },
    { tenant: 'acme', ts: '2026-01-01T13:00:00.000000Z', amount: 4 }
  ], 'only the rows of tenant acme on day 1')

  const none = await api.files('orders', { tenant: 'initech' })
  t.same([none.status, none.keys], [200, []], 'a tenant with no objects lists none')
})
