import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import pl from 'nodejs-polars'
import { DuckDBInstance } from '@duckdb/node-api'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { arrowFrame, flechetteFrame, polarsFrame, polarsNarrowFrame } from './producer-frames.ts'

/*
 * Frames written by the real producer libraries (nodejs-polars 0.25.2,
 * @uwdata/flechette 2.6.0, apache-arrow 21.2.0) with every type each can write and a null in
 * every nullable column, POSTed to a real gateway (`npm start`'s entry, local auth, local
 * storage); the committed Parquet read back with DuckDB and with polars, value by value.
 */

const STREAM = 'application/vnd.apache.arrow.stream'

async function post (gw: Gateway, token: string, topic: string, body: Uint8Array) {
  const res = await fetch(`${gw.url}/v1/topics/${topic}/records`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': STREAM }, body: new Blob([body as Uint8Array<ArrayBuffer>]) })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

async function topicTypes (gw: Gateway, token: string, topic: string): Promise<string[]> {
  const res = await fetch(`${gw.url}/v1/topics/${topic}`, { headers: { authorization: `Bearer ${token}` } })
  return ((await res.json()) as { schema: { fields: Array<{ name: string, type: string, nullable: boolean }> } }).schema.fields.map((f) => `${f.name}: ${f.type}${f.nullable ? '' : ' not null'}`)
}

function parquetOf (gw: Gateway, topic: string): string {
  const files = (readdirSync(join(gw.dataDir, topic), { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet'))
  if (files.length !== 1) throw new Error(`expected one object for ${topic}, found ${files.length}`)
  return join(gw.dataDir, topic, files[0])
}

/** DuckDB's column types and every value as DuckDB prints it (VARCHAR), `__ingested_at` left out. */
async function duck (file: string) {
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  try {
    const src = `read_parquet('${file}', hive_partitioning = false)`
    const types = (await conn.runAndReadAll(`DESCRIBE SELECT * EXCLUDE (__ingested_at) FROM ${src}`)).getRowObjectsJS().map((r) => `${String(r.column_name)} ${String(r.column_type)}`)
    const rows = (await conn.runAndReadAll(`SELECT COLUMNS(* EXCLUDE (__ingested_at))::VARCHAR FROM ${src}`)).getRowObjectsJS()
    return { types, rows }
  } finally {
    conn.closeSync()
    db.closeSync()
  }
}

/** polars' dtypes and rows of `columns`, decimals and int64 cast to strings (JS cannot hold them exactly), dates as ISO strings. */
function polars (file: string, columns: string[], asText: string[] = []) {
  const df = pl.readParquet(file, { columns })
  const dtypes = df.dtypes.map(String)
  const rows = df.select(...columns.map((c) => asText.includes(c) ? pl.col(c).cast(pl.Utf8) : pl.col(c))).toRecords()
  return { dtypes, rows: JSON.parse(JSON.stringify(rows)) as unknown[] }
}

t.test('real producers land every type they write; DuckDB and polars read back the values sent', async (t) => {
  const gw = await startGateway(t, { AUTH_PROVIDERS: 'local', FLUSH_INTERVAL_MS: '100' })
  const writer = localToken(gw.dataDir, ['write'])

  t.test('nodejs-polars 0.25.2', async (t) => {
    const body = polarsFrame()
    t.same(await post(gw, writer, 'pol', body), { status: 200, body: { topic: 'pol', rows: 3, batches: 1, bytes: body.byteLength, ack: 'durable' } })
    t.same(await topicTypes(gw, writer, 'pol'), [
      'id: int64', 'i8: int8', 'u16: uint16', 'f32: float', 'ok: bool', 'name: large_string', 'cat: large_string',
      'lst: large_list<item: double>', 'arr: fixed_size_list<item: int32>[3]', 'dec: decimal128(10, 2)', 'tm: time64[ns]',
      'dur: duration[ms]', 'day: date32[day]', 'at_ms: timestamp[ms, tz=UTC]', 'at_hel: timestamp[us, tz=Europe/Helsinki]',
      'st: struct<a: int16, b: large_string>'
    ])
    const file = parquetOf(gw, 'pol')
    const d = await duck(file)
    t.same(d.types, [
      'id BIGINT', 'i8 TINYINT', 'u16 USMALLINT', 'f32 FLOAT', 'ok BOOLEAN', 'name VARCHAR', 'cat VARCHAR', 'lst DOUBLE[]',
      'arr INTEGER[]', 'dec DECIMAL(10,2)', 'tm TIME', 'dur BIGINT', 'day DATE', 'at_ms TIMESTAMP WITH TIME ZONE',
      'at_hel TIMESTAMP WITH TIME ZONE', 'st STRUCT(a SMALLINT, b VARCHAR)'
    ])
    const nulls = { id: null, i8: null, u16: null, f32: null, ok: null, name: null, cat: null, lst: null, arr: null, dec: null, tm: null, dur: null, day: null, at_ms: null, at_hel: null }
    t.same(d.rows, [
      { id: '1', i8: '-128', u16: '0', f32: '1.5', ok: 'true', name: 'ä', cat: 'red', lst: '[1.5, 2.0]', arr: '[1, 2, 3]', dec: '12.34', tm: '01:02:03.000001', dur: '1500', day: '2024-05-01', at_ms: '2024-05-01 12:00:00.123+00', at_hel: '2024-05-01 12:00:00.123456+00', st: "{'a': 1, 'b': x}" },
      { ...nulls, st: "{'a': NULL, 'b': NULL}" },
      { id: '3', i8: '127', u16: '65535', f32: '-0.25', ok: 'false', name: 'a string longer than twelve bytes', cat: 'blue', lst: '[]', arr: '[4, 5, 6]', dec: '-0.01', tm: '00:00:00', dur: '-3', day: '1969-12-31', at_ms: '1970-01-01 00:00:00+00', at_hel: '1970-01-01 00:00:00.000001+00', st: "{'a': 3, 'b': z}" }
    ])
    const p = polars(file, Object.keys(nulls).concat('st'), ['id', 'dec', 'at_hel'])
    t.same(p.dtypes, [
      'Int64', 'Int8', 'UInt16', 'Float32', 'Bool', 'String', 'String', 'List(DataType(Float64))', 'FixedSizeList(DataType(Int32),3)',
      'Decimal(10,2)', 'Time', 'Duration(ms)', 'Date', 'Datetime(us,UTC)', 'Datetime(us,Europe/Helsinki)',
      'Struct(Field("a", DataType(Int16)),Field("b", DataType(String)))'
    ].map((x) => `DataType(${x})`))
    t.same(p.rows, [
      { id: '1', i8: -128, u16: 0, f32: 1.5, ok: true, name: 'ä', cat: 'red', lst: [1.5, 2], arr: [1, 2, 3], dec: '12.34', tm: '01:02:03.000001', dur: 1500, day: '2024-05-01T00:00:00.000Z', at_ms: '2024-05-01T12:00:00.123Z', at_hel: '2024-05-01 15:00:00.123456+03:00', st: { a: 1, b: 'x' } },
      { ...nulls, st: { a: null, b: null } },
      { id: '3', i8: 127, u16: 65535, f32: -0.25, ok: false, name: 'a string longer than twelve bytes', cat: 'blue', lst: [], arr: [4, 5, 6], dec: '-0.01', tm: '00:00:00', dur: -3, day: '1969-12-31T00:00:00.000Z', at_ms: '1970-01-01T00:00:00.000Z', at_hel: '1970-01-01 02:00:00.000001+02:00', st: { a: 3, b: 'z' } }
    ])
  })

  t.test('@uwdata/flechette 2.6.0', async (t) => {
    const body = flechetteFrame()
    t.same(await post(gw, writer, 'fle', body), { status: 200, body: { topic: 'fle', rows: 3, batches: 1, bytes: body.byteLength, ack: 'durable' } })
    t.same(await topicTypes(gw, writer, 'fle'), [
      'l: list<item: int32>', 'd: decimal128(12, 2)', 'fsl: fixed_size_list<item: float>[3]', 'm: map<string, int32>', 'dict: string',
      'ts: timestamp[ms, tz=UTC]', 'big: int64', 'd64: decimal64(15, 2)'
    ])
    const file = parquetOf(gw, 'fle')
    const d = await duck(file)
    t.same(d.types, [
      'l INTEGER[]', 'd DECIMAL(12,2)', 'fsl FLOAT[]', 'm MAP(VARCHAR, INTEGER)', 'dict VARCHAR', 'ts TIMESTAMP WITH TIME ZONE', 'big BIGINT', 'd64 DECIMAL(15,2)'
    ])
    t.same(d.rows, [
      { l: '[1, 2]', d: '12.34', fsl: '[1.0, 2.0, 3.0]', m: '{a=1, b=NULL}', dict: 'x', ts: '2024-05-01 12:00:00.123+00', big: '4611686018427387904', d64: '-123456789.25' },
      { l: null, d: null, fsl: null, m: null, dict: null, ts: null, big: null, d64: null },
      { l: '[]', d: '-0.01', fsl: '[4.5, 5.0, 6.0]', m: '{}', dict: 'x', ts: '1970-01-01 00:00:00+00', big: '-1', d64: '0.50' }
    ])
    const p = polars(file, ['l', 'd', 'fsl', 'm', 'dict', 'ts', 'big', 'd64'], ['d', 'big', 'd64'])
    t.same(p.dtypes, [
      'List(DataType(Int32))', 'Decimal(12,2)', 'FixedSizeList(DataType(Float32),3)',
      'List(DataType(Struct(Field("key", DataType(String)),Field("value", DataType(Int32)))))', 'String', 'Datetime(us,UTC)', 'Int64', 'Decimal(15,2)'
    ].map((x) => `DataType(${x})`))
    t.same(p.rows, [
      { l: [1, 2], d: '12.34', fsl: [1, 2, 3], m: [{ key: 'a', value: 1 }, { key: 'b', value: null }], dict: 'x', ts: '2024-05-01T12:00:00.123Z', big: '4611686018427387904', d64: '-123456789.25' },
      { l: null, d: null, fsl: null, m: null, dict: null, ts: null, big: null, d64: null },
      { l: [], d: '-0.01', fsl: [4.5, 5, 6], m: [], dict: 'x', ts: '1970-01-01T00:00:00.000Z', big: '-1', d64: '0.50' }
    ])
  })

  t.test('apache-arrow 21.2.0', async (t) => {
    const body = arrowFrame()
    t.same(await post(gw, writer, 'arr', body), { status: 200, body: { topic: 'arr', rows: 3, batches: 1, bytes: body.byteLength, ack: 'durable' } })
    t.same(await topicTypes(gw, writer, 'arr'), [
      'fsb: fixed_size_binary[16]', 'tm: time64[ns]', 'd64: date64[ms]', 'du: duration[ms]', 'sv: string_view', 'bv: binary_view',
      'lb: large_binary', 'at: timestamp[us, tz=Europe/Helsinki]', 'dec: decimal256(20, 3)'
    ])
    const file = parquetOf(gw, 'arr')
    const d = await duck(file)
    t.same(d.types, [
      'fsb BLOB', 'tm TIME', 'd64 DATE', 'du BIGINT', 'sv VARCHAR', 'bv BLOB', 'lb BLOB', 'at TIMESTAMP WITH TIME ZONE', 'dec DECIMAL(20,3)'
    ])
    t.same(d.rows, [
      { fsb: '\\x01'.repeat(16), tm: '01:02:03.000001', d64: '2024-05-01', du: '1500', sv: 'short', bv: '\\x07\\x07', lb: '\\x00', at: '2024-05-01 12:00:00.123456+00', dec: '123.456' },
      { fsb: null, tm: null, d64: null, du: null, sv: null, bv: null, lb: null, at: null, dec: null },
      { fsb: '\\xFF'.repeat(16), tm: '00:00:00', d64: '1969-12-31', du: '-3', sv: 'a string longer than twelve bytes', bv: '\\x09'.repeat(20), lb: '', at: '1969-12-31 23:59:59.999999+00', dec: '-0.001' }
    ])
    // nodejs-polars 0.25.2 cannot hand a Binary column to JS ("not supported for JS conversion"): binary values are checked by DuckDB above
    const p = polars(file, ['tm', 'd64', 'du', 'sv', 'at', 'dec'], ['at', 'dec'])
    t.same(p.dtypes, ['Time', 'Date', 'Duration(ms)', 'String', 'Datetime(us,Europe/Helsinki)', 'Decimal(20,3)'].map((x) => `DataType(${x})`))
    t.same(p.rows, [
      { tm: '01:02:03.000001', d64: '2024-05-01T00:00:00.000Z', du: 1500, sv: 'short', at: '2024-05-01 15:00:00.123456+03:00', dec: '123.456' },
      { tm: null, d64: null, du: null, sv: null, at: null, dec: null },
      { tm: '00:00:00', d64: '1969-12-31T00:00:00.000Z', du: -3, sv: 'a string longer than twelve bytes', at: '1970-01-01 01:59:59.999999+02:00', dec: '-0.001' }
    ])
  })

  t.test('polars into an existing topic: Int32 into int64 not null, large_string, large_list, timestamp[ms] into [us], all declared nullable', async (t) => {
    const admin = localToken(gw.dataDir, ['admin'])
    const schema = { fields: [{ name: 'id', type: 'int64', nullable: false }, { name: 'name', type: 'string' }, { name: 'tags', type: 'list<item: string>' }, { name: 'at', type: 'timestamp[us]' }] }
    const created = await fetch(`${gw.url}/v1/topics`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'existing', schema }) })
    t.equal(created.status, 201)
    const body = polarsNarrowFrame()
    t.same(await post(gw, writer, 'existing', body), { status: 200, body: { topic: 'existing', rows: 2, batches: 1, bytes: body.byteLength, ack: 'durable' } })
    t.same(await topicTypes(gw, writer, 'existing'), ['id: int64 not null', 'name: string', 'tags: list<item: string>', 'at: timestamp[us]'])
    const file = parquetOf(gw, 'existing')
    const d = await duck(file)
    t.same(d.types, ['id BIGINT', 'name VARCHAR', 'tags VARCHAR[]', 'at TIMESTAMP'])
    t.same(d.rows, [
      { id: '7', name: 'x', tags: '[a, b]', at: '2024-05-01 12:00:00.123' },
      { id: '8', name: null, tags: null, at: null }
    ])
    const p = polars(file, ['id', 'name', 'tags', 'at'])
    t.same(p.dtypes, ['Int64', 'String', 'List(DataType(String))', 'Datetime(us,)'].map((x) => `DataType(${x})`))
    t.same(p.rows, [{ id: 7, name: 'x', tags: ['a', 'b'], at: '2024-05-01T12:00:00.123Z' }, { id: 8, name: null, tags: null, at: null }])
  })
})
