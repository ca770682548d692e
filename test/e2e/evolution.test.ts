import t from 'tap'
import { join } from 'node:path'
import { tableFromIPC } from 'apache-arrow'
import { DuckDBInstance } from '@duckdb/node-api'
import { startGateway } from '../helpers/gateway.ts'
import { makeIpcStream } from '../helpers/arrow.ts'
import { preparedDataDir } from '../reliability/lib/tokens.ts'
import type { FieldSpec } from '../../src/schema/topic-schema.ts'

/* Schema evolution from outside: a real gateway process, its local storage read back with DuckDB. */

const F = (name: string, type: string, nullable = true): FieldSpec => ({ name, type, nullable })
const V1 = [F('id', 'int64', false), F('name', 'string')]

async function gateway (t: Parameters<typeof startGateway>[0], env: Record<string, string> = {}) {
  const { dataDir, token } = preparedDataDir(t)
  const gw = await startGateway(t, { DATA_DIR: dataDir, FLUSH_INTERVAL_MS: '50', ...env }, { timeoutMs: 90_000 })
  const admin = token(['admin'])
  const writer = token(['write'])
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${method === 'POST' && path.endsWith('/records') ? writer : admin}`, ...(body !== undefined && !(body instanceof Uint8Array) ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body)
    })
    const bytes = new Uint8Array(await res.arrayBuffer())
    const text = Buffer.from(bytes).toString()
    return { status: res.status, body: res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text, raw: text, bytes }
  }
  const send = (topic: string, rows: object[], fields: FieldSpec[]) =>
    api('POST', `/v1/topics/${topic}/records`, makeIpcStream(rows, fields), { 'content-type': 'application/vnd.apache.arrow.stream' })
  return { gw, dataDir, api, send }
}

async function duck (t: Parameters<typeof startGateway>[0], sql: string) {
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  return (await conn.runAndReadAll(sql)).getRowObjectsJS()
}

t.test('add, omit, PATCH: every version\'s rows read back in the current schema (GET records, DuckDB union_by_name)', async (t) => {
  const { dataDir, api, send } = await gateway(t)
  t.equal((await api('POST', '/v1/topics', { name: 'evo', schema: { fields: V1 } })).status, 201)

  t.same((await send('evo', [{ id: 1, name: 'a' }, { id: 2, name: 'b' }], V1)).status, 200, 'version 1 rows')
  // a stream that adds a nullable field evolves the topic
  const added = await send('evo', [{ id: 3, name: 'c', tag: 'x' }, { id: 4, name: 'd', tag: null }], [...V1, F('tag', 'string')])
  t.same(added.body, { topic: 'evo', rows: 2, batches: 1, bytes: added.body.bytes, ack: 'durable' })
  t.match((await api('GET', '/v1/topics/evo')).body, { schemaVersion: 2, evolution: 'additive', schema: { fields: [...V1, F('tag', 'string')] } })
  // a stream that omits nullable fields is accepted: nulls stored
  t.equal((await send('evo', [{ id: 5, tag: 'y' }], [F('id', 'int64', false), F('tag', 'string')])).status, 200)
  // the admin widens nothing but adds a field
  const patched = await api('PATCH', '/v1/topics/evo', { schema: { fields: [...V1, F('tag', 'string'), F('score', 'double')] } })
  t.equal(patched.status, 200)
  t.equal(patched.body.schemaVersion, 3)
  t.equal((await send('evo', [{ id: 6, name: 'f' }], V1)).status, 200, 'a version-1 producer keeps writing')
  t.equal((await send('evo', [{ id: 7, score: 1.5, name: 'g' }], [F('id', 'int64', false), F('score', 'double'), F('name', 'string')])).status, 200)

  const expected = [
    { id: 1, name: 'a', tag: null, score: null },
    { id: 2, name: 'b', tag: null, score: null },
    { id: 3, name: 'c', tag: 'x', score: null },
    { id: 4, name: 'd', tag: null, score: null },
    { id: 5, name: null, tag: 'y', score: null },
    { id: 6, name: 'f', tag: null, score: null },
    { id: 7, name: 'g', tag: null, score: 1.5 }
  ]
  const ndjson = await api('GET', '/v1/topics/evo/records', undefined, { accept: 'application/x-ndjson' })
  t.equal(ndjson.status, 200)
  const rows = ndjson.raw.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  t.same(rows.map((r) => Object.keys(r)), rows.map(() => ['id', 'name', 'tag', 'score', '__ingested_at']), 'every row in the current field order')
  t.same(rows.map(({ __ingested_at: _, ...r }) => r).sort((a, b) => Number(a.id) - Number(b.id)), expected)

  const ipc = tableFromIPC((await api('GET', '/v1/topics/evo/records')).bytes)
  t.same(ipc.toArray().map((r) => { const { id, name, tag, score } = r.toJSON(); return { id: Number(id), name, tag, score } }).sort((a, b) => a.id - b.id), expected, 'the same rows as Arrow')

  const glob = join(dataDir, 'evo', '**', '*.parquet')
  const duckRows = await duck(t, `SELECT id, name, tag, score FROM read_parquet('${glob}', union_by_name = true) ORDER BY id`)
  t.same(duckRows.map((r) => ({ ...r, id: Number(r.id) })), expected, 'DuckDB reads every object, nulls where a version lacked the field')
  const files = (await duck(t, `SELECT count(DISTINCT filename) AS n FROM read_parquet('${glob}', filename = true)`))[0].n
  t.ok(Number(files) >= 3, `objects of three versions (${files})`)
})

t.test('the Arrow answer carries one schema across versions', async (t) => {
  const { api, send } = await gateway(t)
  await api('POST', '/v1/topics', { name: 'evo', schema: { fields: V1 } })
  await send('evo', [{ id: 1, name: 'a' }], V1)
  await api('PATCH', '/v1/topics/evo', { schema: { fields: [F('id', 'int64', false), F('name', 'large_string'), F('n', 'int32')] } })
  await send('evo', [{ id: 2, name: 'b', n: 7 }], [F('id', 'int64', false), F('name', 'string'), F('n', 'int32')])
  const table = tableFromIPC((await api('GET', '/v1/topics/evo/records')).bytes)
  t.same(table.schema.fields.map((f) => `${f.name}: ${String(f.type)}`), ['id: Int64', 'name: LargeUtf8', 'n: Int32', '__ingested_at: Timestamp<MICROSECOND, UTC>'])
  t.same(table.toArray().map((r) => { const { id, name, n } = r.toJSON(); return { id: Number(id), name, n } }).sort((a, b) => a.id - b.id), [{ id: 1, name: 'a', n: null }, { id: 2, name: 'b', n: 7 }])
})

t.test('streams that may not evolve the topic: 422 naming the fields, nothing stored, the topic unchanged', async (t) => {
  const { api, send } = await gateway(t, { AUTO_EVOLVE_TOPICS: 'false' })
  await api('POST', '/v1/topics', { name: 'fixed', schema: { fields: V1 } })
  await api('POST', '/v1/topics', { name: 'open', schema: { fields: V1 }, evolution: 'additive' })
  const mismatch = (message: string) => ({ statusCode: 422, code: 'QUIVER_SCHEMA_MISMATCH', error: 'Unprocessable Entity', message: `Schema does not match the topic: ${message}` })
  t.same((await send('fixed', [{ id: 1, tag: 'x' }], [F('id', 'int64', false), F('tag', 'string')])).body,
    mismatch('unexpected fields: tag; topic "fixed" does not add fields from streams (evolution "none"): an admin can add them with PATCH /v1/topics/fixed'))
  t.same((await send('open', [{ id: 1, req: 'x' }], [F('id', 'int64', false), F('req', 'string', false)])).body,
    mismatch('unexpected fields: req declared not null; a field a stream adds to its topic must be nullable (the rows stored before have no value)'))
  t.same((await send('open', [{ id: 1.5, tag: 'x' }], [F('id', 'double', false), F('tag', 'string')])).body.code, 'QUIVER_SCHEMA_MISMATCH', 'other differences: no evolution')
  t.match((await api('GET', '/v1/topics/open')).body, { schemaVersion: 1, schema: { fields: V1 }, stats: { rows: 0 } })
  t.match((await api('GET', '/v1/topics/fixed')).body, { schemaVersion: 1, evolution: 'none', stats: { rows: 0 } })
  t.equal((await send('open', [{ id: 2, tag: 'y' }], [F('id', 'int64', false), F('tag', 'string')])).status, 200, 'the topic created additive evolves although AUTO_EVOLVE_TOPICS=false')
  t.match((await api('GET', '/v1/topics/open')).body, { schemaVersion: 2, stats: { rows: 1 } })
})
