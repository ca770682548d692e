import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import {
  BinaryView, type DataType, DateMillisecond, Decimal, Dictionary, DurationMicrosecond, DurationMillisecond, Field, FixedSizeList, Float16, Float32, Float64,
  Int32, Int64, Int8, LargeBinary, LargeList, LargeUtf8, List, makeData, makeVector, Map_, Struct, Table, tableToIPC,
  TimeMicrosecond, TimeMillisecond, TimeNanosecond, TimestampMicrosecond, TimestampMillisecond, TimestampSecond, Uint32, Uint8, Utf8, Utf8View, type Vector,
  vectorFromArray
} from 'apache-arrow'
import { DuckDBInstance } from '@duckdb/node-api'
import { formatType } from '../../src/schema/types.ts'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'

/*
 * The conversion matrix: each lossless (topic type ← stream type) pair is accepted and
 * stored in the topic's type (DuckDB reads the Parquet: column type and value); each lossy pair
 * is a 422 naming the field, both types and what would be accepted. Row 1 of every column is null.
 */
const int64s = (type: DataType, v: bigint) => makeVector(makeData({ type, length: 2, nullCount: 1, nullBitmap: Uint8Array.of(1), data: BigInt64Array.of(v, 0n) } as Parameters<typeof makeData>[0]))
const dec = (type: Decimal, v: bigint) => {
  const stride = type.bitWidth / 32
  const data = new Uint32Array(2 * stride)
  for (let w = 0; w < stride; w++) data[w] = Number(BigInt.asUintN(32, v >> BigInt(32 * w)))
  return makeVector(makeData({ type, length: 2, nullCount: 1, nullBitmap: Uint8Array.of(1), data }))
}
const item = (type: DataType) => new Field('', type, true)
const MAP_TYPE = new Map_<Utf8, Int32>(new Field('entries', new Struct<{ key: Utf8, value: Int32 }>([new Field('key', new Utf8(), false), new Field('value', new Int32(), true)]), false))

/** [topic type, stream column, DuckDB type, DuckDB value as VARCHAR]. */
const LOSSLESS: Array<[string, () => Vector, string, string]> = [
  ['string', () => vectorFromArray(['ä', null], new LargeUtf8()), 'VARCHAR', 'ä'],
  ['string', () => vectorFromArray(['a string longer than twelve', null], new Utf8View()), 'VARCHAR', 'a string longer than twelve'],
  ['string', () => vectorFromArray(['x', null], new Dictionary(new Utf8(), new Int32())), 'VARCHAR', 'x'],
  ['large_string', () => vectorFromArray(['y', null], new Utf8()), 'VARCHAR', 'y'],
  ['binary', () => vectorFromArray([Uint8Array.of(1, 2), null], new LargeBinary()), 'BLOB', '\\x01\\x02'],
  ['binary', () => vectorFromArray([Uint8Array.of(3), null], new BinaryView()), 'BLOB', '\\x03'],
  ['list<item: int32>', () => vectorFromArray([[1, 2], null], new LargeList(item(new Int32()))), 'INTEGER[]', '[1, 2]'],
  ['large_list<item: int64>', () => vectorFromArray([[-1], null], new List(item(new Int32()))), 'BIGINT[]', '[-1]'],
  ['int64', () => vectorFromArray([-5, null], new Int32()), 'BIGINT', '-5'],
  ['int64', () => vectorFromArray([4294967295, null], new Uint32()), 'BIGINT', '4294967295'],
  ['int32', () => vectorFromArray([-128, null], new Int8()), 'INTEGER', '-128'],
  ['uint64', () => vectorFromArray([255, null], new Uint8()), 'UBIGINT', '255'],
  ['double', () => vectorFromArray([0.1, null], new Float32()), 'DOUBLE', String(Math.fround(0.1))],
  ['double', () => vectorFromArray([1.5, null], new Float16()), 'DOUBLE', '1.5'],
  ['timestamp[us, tz=UTC]', () => int64s(new TimestampMillisecond('UTC'), 1_714_564_800_123n), 'TIMESTAMP WITH TIME ZONE', '2024-05-01 12:00:00.123+00'],
  ['timestamp[us]', () => int64s(new TimestampSecond(), -1n), 'TIMESTAMP', '1969-12-31 23:59:59'],
  ['time64[us]', () => vectorFromArray([3_723_004, null], new TimeMillisecond()), 'TIME', '01:02:03.004'],
  ['time64[ns]', () => int64s(new TimeMicrosecond(), 1n), 'TIME', '00:00:00.000001'],
  ['duration[us]', () => int64s(new DurationMillisecond(), -3n), 'BIGINT', '-3000'],
  ['date32[day]', () => int64s(new DateMillisecond(), 86_400_000n * 19844n), 'DATE', '2024-05-01'],
  ['decimal128(12, 2)', () => dec(new Decimal(2, 10, 128), -1234n), 'DECIMAL(12,2)', '-12.34'],
  ['decimal128(20, 2)', () => dec(new Decimal(2, 15, 64), 123456789012345n), 'DECIMAL(20,2)', '1234567890123.45'],
  ['decimal128(38, 0)', () => dec(new Decimal(0, 30, 256), -(10n ** 29n)), 'DECIMAL(38,0)', `-1${'0'.repeat(29)}`],
  ['fixed_size_list<item: double>[2]', () => vectorFromArray([[0.5, 2], null], new FixedSizeList(2, item(new Float32()))), 'DOUBLE[]', '[0.5, 2.0]'],
  ['map<string, int64>', () => vectorFromArray([new Map([['k', 1]]), null], MAP_TYPE), 'MAP(VARCHAR, BIGINT)', '{k=1}'],
  ['struct<a: int64, b: string>', () => vectorFromArray([{ a: 1, b: 'z' }, null], new Struct([new Field('a', new Int8(), true), new Field('b', new LargeUtf8(), true)])), 'STRUCT(a BIGINT, b VARCHAR)', "{'a': 1, 'b': z}"]
]

/** [topic type, stream column, the 422 message's field part]. */
const LOSSY: Array<[string, () => Vector, string]> = [
  ['int32', () => int64s(new Int64(), 1n), 'c: expected int32, got int64; accepted: int8, int16, int32, uint8, uint16'],
  ['uint32', () => vectorFromArray([1, null], new Int8()), 'c: expected uint32, got int8; accepted: uint8, uint16, uint32'],
  ['float', () => vectorFromArray([1, null], new Float64()), 'c: expected float, got double; accepted: halffloat, float'],
  ['timestamp[ms]', () => int64s(new TimestampMicrosecond(), 1n), 'c: expected timestamp[ms], got timestamp[us]; accepted: timestamp[s|ms]'],
  ['timestamp[us, tz=UTC]', () => int64s(new TimestampMicrosecond(), 1n), 'c: expected timestamp[us, tz=UTC], got timestamp[us]; accepted: timestamp[s|ms|us, tz=UTC]'],
  ['string', () => vectorFromArray([Uint8Array.of(1), null], new LargeBinary()), 'c: expected string, got large_binary; accepted: string, large_string, string_view or dictionary<values=string>'],
  ['decimal128(10, 2)', () => dec(new Decimal(3, 10, 128), 1n), 'c: expected decimal128(10, 2), got decimal128(10, 3); accepted: decimal32|64|128|256(p, 2) with p ≤ 10'],
  ['decimal128(10, 2)', () => dec(new Decimal(2, 12, 128), 1n), 'c: expected decimal128(10, 2), got decimal128(12, 2); accepted: decimal32|64|128|256(p, 2) with p ≤ 10'],
  ['list<item: int32>', () => vectorFromArray([[1n] as unknown as number[], null], new List(item(new Int64()))), 'c: expected list<item: int32>, got list<item: int64>; accepted: list or large_list of an accepted item type'],
  ['date32[day]', () => int64s(new TimestampMillisecond(), 1n), 'c: expected date32[day], got timestamp[ms]; accepted: date32[day] or date64[ms]'],
  // the hint said "the same type" though a coarser unit converts
  ['duration[ms]', () => int64s(new DurationMicrosecond(), 1n), 'c: expected duration[ms], got duration[us]; accepted: duration[s|ms]'],
  ['time64[us]', () => int64s(new TimeNanosecond(), 1n), 'c: expected time64[us], got time64[ns]; accepted: time32[s], time32[ms], time64[us]']
]

const stream = (cols: Record<string, Vector>) => Buffer.from(tableToIPC(new Table(cols), 'stream'))

t.test('lossless pairs: accepted, stored in the topic type, DuckDB reads the values', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  const fields = LOSSLESS.map(([type], i) => ({ name: `c${i}`, type }))
  t.equal((await app.inject({ method: 'POST', url: '/v1/topics', headers: { authorization: `Bearer ${admin}` }, payload: { name: 'matrix', schema: { fields } } })).statusCode, 201)
  const body = stream(Object.fromEntries(LOSSLESS.map(([, make], i) => [`c${i}`, make()])))
  const res = await app.inject({ method: 'POST', url: '/v1/topics/matrix/records', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/vnd.apache.arrow.stream' }, payload: body })
  t.same([res.statusCode, res.json()], [200, { topic: 'matrix', rows: 2, batches: 1, bytes: body.byteLength, ack: 'durable' }])
  const file = join(dataDir, 'matrix', (readdirSync(join(dataDir, 'matrix'), { recursive: true }) as string[]).find((f) => f.endsWith('.parquet'))!)
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  const src = `read_parquet('${file}', hive_partitioning = false)`
  const types = (await conn.runAndReadAll(`DESCRIBE SELECT * EXCLUDE (__ingested_at) FROM ${src}`)).getRowObjectsJS().map((r) => r.column_type)
  const rows = (await conn.runAndReadAll(`SELECT COLUMNS(* EXCLUDE (__ingested_at))::VARCHAR FROM ${src}`)).getRowObjectsJS()
  LOSSLESS.forEach(([topicType, make, duckType, value], i) => {
    const label = `${topicType} ← ${formatType(make().type)}`
    t.same([types[i], rows[0][`c${i}`], rows[1][`c${i}`]], [duckType, value, null], label)
  })
})

t.test('lossy pairs: 422 QUIVER_SCHEMA_MISMATCH naming the field, both types and what is accepted; nothing stored', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  for (const [i, [type, make, message]] of LOSSY.entries()) {
    const topic = `lossy${i}`
    t.equal((await app.inject({ method: 'POST', url: '/v1/topics', headers: { authorization: `Bearer ${admin}` }, payload: { name: topic, schema: { fields: [{ name: 'c', type }] } } })).statusCode, 201)
    const res = await app.inject({ method: 'POST', url: `/v1/topics/${topic}/records`, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/vnd.apache.arrow.stream' }, payload: stream({ c: make() }) })
    t.same([res.statusCode, res.json()], [422, { statusCode: 422, code: 'QUIVER_SCHEMA_MISMATCH', error: 'Unprocessable Entity', message: `Schema does not match the topic: ${message}` }], `${type} ← ${formatType(make().type)}`)
  }
  t.same(readdirSync(dataDir).filter((d) => d.startsWith('lossy')), [], 'no object was written')
})
