import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { DateMillisecond, Field, makeData, RecordBatch, Schema, Struct, type DataType, TimeMicrosecond, TimeSecond, TimestampSecond, tableToIPC, Table } from 'apache-arrow'
import { DuckDBInstance } from '@duckdb/node-api'
import t from 'tap'
import { listeningApp } from '../e2e/ingest-helpers.ts'

/*
 * Found from outside: values valid in Arrow but that their stored form cannot hold were stored
 * wrong with 200: timestamp[s] 10^14 (stored as µs, ×10^6 overflowed int64) as year 248073, int64
 * max seconds as −1 s; time32[s] 3,000,000 wrapped on its way to ms, and DuckDB then failed with an
 * INTERNAL error that invalidated its database; date64 10^18 ms became a date in 3586956 BC. They
 * are now 422 QUIVER_VALUE_OUT_OF_RANGE naming the field and row (400 QUIVER_INVALID_JSON in JSON),
 * and nothing of the request is stored.
 */
function body (name: string, type: DataType, values: BigInt64Array | Int32Array, valid?: boolean[]): Uint8Array {
  const nullBitmap = valid === undefined ? undefined : Uint8Array.from({ length: Math.ceil(valid.length / 8) }, (_, b) => valid.slice(b * 8, b * 8 + 8).reduce((m, v, i) => m | (v ? 1 << i : 0), 0))
  const nullCount = valid === undefined ? 0 : valid.filter((v) => !v).length
  const column = makeData({ type, length: values.length, nullCount, nullBitmap, data: values } as never)
  const schema = new Schema([new Field(name, type, valid !== undefined)])
  const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: values.length, children: [column] }))
  return tableToIPC(new Table([batch]), 'stream')
}

t.test('values their stored form cannot hold are refused whole; the largest that fit are stored exactly', async (t) => {
  const gw = await listeningApp(t)
  const post = async (topic: string, payload: Uint8Array | string, type = 'application/vnd.apache.arrow.stream') => {
    const res = await fetch(`${gw.base}/v1/topics/${topic}/records`, { method: 'POST', headers: { authorization: `Bearer ${gw.writer}`, 'content-type': type }, body: typeof payload === 'string' ? payload : Buffer.from(payload) })
    return { status: res.status, body: await res.json() }
  }
  const refused = (message: string) => ({ status: 422, body: { statusCode: 422, code: 'QUIVER_VALUE_OUT_OF_RANGE', error: 'Unprocessable Entity', message: `Value out of range: ${message}` } })
  const stored = (topic: string) => { try { return readdirSync(join(gw.dataDir, topic), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet')) } catch { return [] } }

  const ts = new TimestampSecond('UTC')
  t.same(await post('ts_s', body('t', ts, BigInt64Array.from([1n, 100_000_000_000_000n]))),
    refused('field "t": row 1: timestamp[s] 100000000000000 is beyond what microseconds hold in 64 bits (±9223372036854 s, the year ±294247)'))
  t.same(await post('ts_s', body('t', ts, BigInt64Array.from([1n, 2n ** 63n - 1n]))),
    refused('field "t": row 1: timestamp[s] 9223372036854775807 is beyond what microseconds hold in 64 bits (±9223372036854 s, the year ±294247)'))
  t.same(stored('ts_s'), [], 'nothing stored, and the topic was not auto-created')
  t.equal((await fetch(`${gw.base}/v1/topics/ts_s`, { headers: { authorization: `Bearer ${gw.admin}` } })).status, 404)
  // the largest that fit, and a null slot holding garbage (its bytes are not a value)
  t.match(await post('ts_s', body('t', ts, BigInt64Array.from([9_223_372_036_854n, -9_223_372_036_854n, 2n ** 63n - 1n]), [true, true, false])), { status: 200, body: { rows: 3 } })

  t.same(await post('time_s', body('t', new TimeSecond(), Int32Array.from([1, 86_399, 3_000_000]))),
    refused('field "t": row 2: time 3000000 s is not a time of day (0 to 86400 s, 24:00:00)'))
  t.same(await post('time_s', body('t', new TimeSecond(), Int32Array.from([-5]))), refused('field "t": row 0: time -5 s is not a time of day (0 to 86400 s, 24:00:00)'))
  t.match(await post('time_s', body('t', new TimeSecond(), Int32Array.from([0, 86_399, 86_400]))), { status: 200, body: { rows: 3 } })
  t.same(await post('time_us', body('t', new TimeMicrosecond(), BigInt64Array.from([-1n]))), refused('field "t": row 0: time -1 us is not a time of day (0 to 86400000000 us, 24:00:00)'))
  t.same(await post('date_ms', body('d', new DateMillisecond(), BigInt64Array.from([86_400_000n, 10n ** 18n]))),
    refused('field "d": row 1: date64 1000000000000000000 ms is beyond the dates date32 holds (about ±5.8 million years)'))
  t.match(await post('date_ms', body('d', new DateMillisecond(), BigInt64Array.from([86_400_000n * 1_000_000_000n]))), { status: 200, body: { rows: 1 } })

  // JSON: epoch milliseconds that become seconds fine but overflow µs
  t.same(await post('ts_s', '{"t":99999999999999999}\n', 'application/x-ndjson'),
    { status: 400, body: { statusCode: 400, code: 'QUIVER_INVALID_JSON', error: 'Bad Request', message: 'Invalid JSON data: line 1: field "t": expected timestamp[s, tz=UTC], got 100000000000000000' } })

  t.equal((await fetch(`${gw.base}/v1/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${gw.admin}` } })).status, 200)
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  const read = async (topic: string, sql: string) => (await conn.runAndReadAll(sql.replace('$', `read_parquet('${join(gw.dataDir, topic)}/**/*.parquet')`))).getRowObjectsJS()
  t.same(await read('ts_s', 'SELECT epoch_us(t)::VARCHAR AS us FROM $ ORDER BY us'), [{ us: '-9223372036854000000' }, { us: '9223372036854000000' }, { us: null }])
  t.same(await read('time_s', 'SELECT t::VARCHAR AS t FROM $ ORDER BY t'), [{ t: '00:00:00' }, { t: '23:59:59' }, { t: '24:00:00' }])
  t.same(await read('date_ms', "SELECT (d - DATE '1970-01-01')::BIGINT::VARCHAR AS days FROM $"), [{ days: '1000000000' }])
})
