import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import pl from 'nodejs-polars'
import { DuckDBInstance } from '@duckdb/node-api'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'

/*
 * Schema evolution inside structs: a nullable field added inside a struct, by a writer's stream
 * (auto-evolve) and by PATCH, at the top of a struct and inside a list's struct items. Frames are
 * written by nodejs-polars 0.25.2 (large_string, large_list); every object is read back by DuckDB
 * (union_by_name), by polars (each object, and the gateway's Arrow answer) and as NDJSON: every
 * row, nulls where its version had no such field.
 */

const F = (name: string, type: string, nullable = true) => ({ name, type, nullable })
const st = (cols: Record<string, pl.Series>) => pl.DataFrame(cols).toStruct('st')

/** Rows of id, st and items (a list of structs), as polars writes them. */
function frame (ids: number[], stCols: Record<string, pl.Series>, items?: pl.Series): Uint8Array {
  const cols: Record<string, pl.Series> = { id: pl.Series('id', ids, pl.Int64), st: st(stCols) }
  if (items !== undefined) cols.items = items
  return pl.DataFrame(cols).writeIPCStream()
}

t.test('a field added inside a struct by a stream and by PATCH; every version read back', async (t) => {
  const { app, dataDir } = await buildApp(t, { FLUSH_INTERVAL_MS: '50' })
  const token = localToken(dataDir, ['admin', 'write', 'read'])
  const api = async (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown, headers: Record<string, string> = {}) => {
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${token}`, ...headers }, payload: payload as string })
    return { status: res.statusCode, body: String(res.headers['content-type']).startsWith('application/json') ? res.json() : res.body, raw: res.rawPayload }
  }
  const send = (topic: string, body: Uint8Array) => api('POST', `/v1/topics/${topic}/records`, Buffer.from(body), { 'content-type': 'application/vnd.apache.arrow.stream' })
  const V1 = [F('id', 'int64', false), F('st', 'struct<a: int32, b: string>'), F('items', 'list<item: struct<x: int32>>')]
  t.equal((await api('POST', '/v1/topics', { name: 'nest', schema: { fields: V1 } })).status, 201)
  t.equal((await api('POST', '/v1/topics', { name: 'fixed', schema: { fields: V1 }, evolution: 'none' })).status, 201)
  // nodejs-polars builds no list-of-struct Series from JS values: its JSON reader does, cast to the exact type
  const itemsOf = (rows: Array<Array<Record<string, number | string | null>> | null>, withY = false) =>
    pl.readJSON(Buffer.from(rows.map((items) => JSON.stringify({ items })).join('\n')), { format: 'lines' }).getColumn('items')
      .cast(pl.List(pl.Struct([new pl.Field('x', pl.Int32), ...(withY ? [new pl.Field('y', pl.Utf8)] : [])])))

  // version 1
  const v1 = frame([1, 2], { a: pl.Series('a', [1, null], pl.Int32), b: pl.Series('b', ['p', null], pl.Utf8) }, itemsOf([[{ x: 1 }], null]))
  t.same((await send('nest', v1)).status, 200)
  // a stream whose struct has one more (nullable) field evolves the topic: version 2
  const v2 = frame([3], { a: pl.Series('a', [3], pl.Int32), b: pl.Series('b', ['q'], pl.Utf8), c: pl.Series('c', [2.5], pl.Float64) }, itemsOf([[]]))
  t.same((await send('nest', v2)).body, { topic: 'nest', rows: 1, batches: 1, bytes: v2.byteLength, ack: 'durable' })
  t.match((await api('GET', '/v1/topics/nest')).body, { schemaVersion: 2, schema: { fields: [V1[0], F('st', 'struct<a: int32, b: string, c: double>'), V1[2]] } })
  // the same stream into a topic that does not evolve: 422 naming the nested field, nothing stored
  t.same((await send('fixed', v2)).body, {
    statusCode: 422,
    code: 'QUIVER_SCHEMA_MISMATCH',
    error: 'Unprocessable Entity',
    message: 'Schema does not match the topic: unexpected fields: st.c; topic "fixed" does not add fields from streams (evolution "none"): an admin can add them with PATCH /v1/topics/fixed'
  })
  // PATCH adds a field inside the list's struct items: version 3; one that drops a struct field is refused
  const V3 = [V1[0], F('st', 'struct<a: int32, b: string, c: double>'), F('items', 'list<item: struct<x: int32, y: string>>')]
  t.match(await api('PATCH', '/v1/topics/nest', { schema: { fields: V3 } }), { status: 200, body: { schemaVersion: 3, schema: { fields: V3 } } })
  t.same((await api('PATCH', '/v1/topics/nest', { schema: { fields: [V1[0], F('st', 'struct<a: int32, c: double, d: int8 not null>'), V3[2]] } })).body, {
    statusCode: 422,
    code: 'QUIVER_SCHEMA_INCOMPATIBLE',
    error: 'Unprocessable Entity',
    message: 'Schema change is not compatible: st.b: removed (fields are never dropped; stored rows keep it); st.d: a new field must be nullable (the rows stored before have no value)'
  })
  // a producer still on version 1 keeps writing; one on version 3 fills items.y
  t.equal((await send('nest', frame([4], { a: pl.Series('a', [4], pl.Int32), b: pl.Series('b', ['r'], pl.Utf8) }, itemsOf([[{ x: 4 }]])))).status, 200)
  t.equal((await send('nest', frame([5], { b: pl.Series('b', ['s'], pl.Utf8), c: pl.Series('c', [null], pl.Float64), a: pl.Series('a', [5], pl.Int32) }, itemsOf([[{ x: 5, y: 'why' }]], true)))).status, 200)
  t.match((await api('GET', '/v1/topics/nest')).body, { schemaVersion: 3, stats: { rows: 5 } })
  t.match((await api('GET', '/v1/topics/fixed')).body, { schemaVersion: 1, stats: { rows: 0 } })

  const expected = [
    { id: 1, st: { a: 1, b: 'p', c: null }, items: [{ x: 1, y: null }] },
    { id: 2, st: { a: null, b: null, c: null }, items: null },
    { id: 3, st: { a: 3, b: 'q', c: 2.5 }, items: [] },
    { id: 4, st: { a: 4, b: 'r', c: null }, items: [{ x: 4, y: null }] },
    { id: 5, st: { a: 5, b: 's', c: null }, items: [{ x: 5, y: 'why' }] }
  ]
  const ndjson = await api('GET', '/v1/topics/nest/records', undefined, { accept: 'application/x-ndjson' })
  t.equal(ndjson.status, 200)
  const rows = String(ndjson.body).trim().split('\n').map((l) => { const { __ingested_at: _, ...r } = JSON.parse(l); return r })
  t.same(rows.sort((a, b) => a.id - b.id), expected, 'GET records (NDJSON): every version in the current schema')

  const arrow = pl.readIPCStream((await api('GET', '/v1/topics/nest/records')).raw)
  t.same(arrow.dtypes.map(String).slice(0, 3), ['Int64', 'Struct(Field("a", DataType(Int32)),Field("b", DataType(String)),Field("c", DataType(Float64)))', 'List(DataType(Struct(Field("x", DataType(Int32)),Field("y", DataType(String)))))'].map((x) => `DataType(${x})`))
  t.same(JSON.parse(JSON.stringify(arrow.select('id', 'st', 'items').sort('id').toRecords())), expected, 'GET records (Arrow) read by polars')

  const dir = join(dataDir, 'nest')
  const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet'))
  t.equal(files.length, 4, 'one object per request (flushed apart), three schema versions')
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  const src = `read_parquet('${join(dir, '**', '*.parquet')}', union_by_name = true)`
  t.same((await conn.runAndReadAll(`DESCRIBE SELECT id, st, items FROM ${src}`)).getRowObjectsJS().map((r) => `${String(r.column_name)} ${String(r.column_type)}`),
    ['id BIGINT', 'st STRUCT(a INTEGER, b VARCHAR, c DOUBLE)', 'items STRUCT(x INTEGER, y VARCHAR)[]'])
  const duck = (await conn.runAndReadAll(`SELECT id::INTEGER AS id, st::VARCHAR AS st, items::VARCHAR AS items FROM ${src} ORDER BY id`)).getRowObjectsJS()
  t.same(duck, [
    { id: 1, st: "{'a': 1, 'b': p, 'c': NULL}", items: "[{'x': 1, 'y': NULL}]" },
    { id: 2, st: "{'a': NULL, 'b': NULL, 'c': NULL}", items: null },
    { id: 3, st: "{'a': 3, 'b': q, 'c': 2.5}", items: '[]' },
    { id: 4, st: "{'a': 4, 'b': r, 'c': NULL}", items: "[{'x': 4, 'y': NULL}]" },
    { id: 5, st: "{'a': 5, 'b': s, 'c': NULL}", items: "[{'x': 5, 'y': why}]" }
  ], 'DuckDB union_by_name: nulls where a version lacked a nested field')

  // polars reads each object as written: its version's struct fields, its rows
  const byId = new Map(expected.map((r) => [r.id, r]))
  const shapes = new Set<string>()
  for (const f of files) {
    const df = pl.readParquet(join(dir, f), { columns: ['id', 'st', 'items'] })
    shapes.add(String(df.getColumn('st').dtype))
    // polars cannot hand a list of structs to JS row by row ("StructOwned is not supported"): its own JSON writer does
    const records = String(df.writeJSON({ format: 'lines' })).trim().split('\n').map((l) => JSON.parse(l))
    for (const r of records as Array<{ id: number, st: Record<string, unknown> | null, items: Array<Record<string, unknown>> | null }>) {
      const want = byId.get(r.id)!
      const pick = (o: Record<string, unknown> | null, like: Record<string, unknown> | null) => o === null || like === null ? o : Object.fromEntries(Object.keys(o).map((k) => [k, like[k]]))
      t.same(r, { id: want.id, st: pick(r.st, want.st), items: r.items === null ? want.items : r.items.map((it, i) => pick(it, want.items![i])) }, `polars, object ${f.split('/').pop()}, id ${r.id}`)
    }
  }
  t.equal(shapes.size, 2, 'objects of both struct shapes')
})
