import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  DateMillisecond, Field, Float32, Int32, LargeList, LargeUtf8, makeData, RecordBatch, RecordBatchStreamWriter, Schema, Struct,
  TimeSecond, TimestampMillisecond, Utf8View, vectorFromArray
} from 'apache-arrow'
import { DuckDBInstance } from '@duckdb/node-api'
import { Table as WasmTable, writeParquet } from 'parquet-wasm'
import { matchSchema, normaliseBatch } from '../../src/arrow/compare.ts'
import { toArrowSchema } from '../../src/schema/types.ts'
import { checkTopicNulls } from '../../src/arrow/validate.ts'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'

/*
 * Lossless conversions: each lossless pair is accepted and stored in the topic's type (read
 * back from Parquet by DuckDB, value by value); each lossy pair is a 422 naming the field.
 */
const TOPIC = {
  fields: [
    { name: 'id', type: 'int64', nullable: false },
    { name: 'name', type: 'string', nullable: true },
    { name: 'tags', type: 'list<item: string>', nullable: true },
    { name: 'at', type: 'timestamp[us, tz=UTC]', nullable: true },
    { name: 'price', type: 'double', nullable: true },
    { name: 'day', type: 'date64[ms]', nullable: true },
    { name: 'tod', type: 'time32[s]', nullable: true },
    { name: 'code', type: 'string', nullable: true }
  ]
}

/** What polars, flechette and apache-arrow send for that topic: narrower ints, large_*, ms timestamps, float32, date64, views, all nullable. */
function producerBatch (): RecordBatch {
  const fields = [
    new Field('id', new Int32(), true),
    new Field('name', new LargeUtf8(), true),
    new Field('tags', new LargeList(new Field('', new LargeUtf8(), true)), true),
    new Field('at', new TimestampMillisecond('UTC'), true),
    new Field('price', new Float32(), true),
    new Field('day', new DateMillisecond(), true),
    new Field('tod', new TimeSecond(), true),
    new Field('code', new Utf8View(), true)
  ]
  const cols = [
    vectorFromArray([1, 2, 3], new Int32()),
    vectorFromArray(['a', null, 'ccc'], new LargeUtf8()),
    vectorFromArray([['x', 'y'], null, []], fields[2].type),
    vectorFromArray([1_700_000_000_123, null, 0], fields[3].type),
    vectorFromArray([1.5, null, -2.25], new Float32()),
    vectorFromArray([new Date('2024-05-01T00:00:00Z'), null, new Date('1970-01-02T00:00:00Z')], new DateMillisecond()),
    vectorFromArray([3661, null, 0], new TimeSecond()),
    vectorFromArray(['short', null, 'a string longer than twelve bytes'], new Utf8View())
  ]
  return new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: 3, nullCount: 0, children: cols.map((c) => c.data[0]) }))
}

async function duck (t: { teardown: (fn: () => void) => void }, file: string, sql: string) {
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  return (await conn.runAndReadAll(sql.replaceAll('$F', `read_parquet('${file}')`))).getRowObjectsJS()
}

t.test('lossless pairs are converted to the topic types and read back exactly by DuckDB', async (t) => {
  const topic = toArrowSchema(TOPIC)
  const batch = producerBatch()
  const m = matchSchema(topic, batch.schema)
  t.same(m, { ok: true, reorder: null })
  const out = normaliseBatch(batch, topic, null)
  checkTopicNulls(out) // id declared nullable by the producer, holds no null: fits the non-nullable column
  t.equal(out.schema, topic)
  const w = new RecordBatchStreamWriter()
  w.reset(undefined, topic)
  w.write(out)
  w.finish()
  const file = join(t.testdir(), 'c.parquet')
  writeFileSync(file, writeParquet(WasmTable.fromIPCStream(w.toUint8Array(true))))
  const types = await duck(t, file, 'DESCRIBE SELECT * FROM $F')
  t.same(types.map((r) => [r.column_name, r.column_type]), [
    ['id', 'BIGINT'], ['name', 'VARCHAR'], ['tags', 'VARCHAR[]'], ['at', 'TIMESTAMP WITH TIME ZONE'], ['price', 'DOUBLE'],
    ['day', 'DATE'], ['tod', 'TIME'], ['code', 'VARCHAR']
  ])
  const rows = await duck(t, file, 'SELECT id::VARCHAR AS id, name, tags::VARCHAR AS tags, epoch_us("at")::VARCHAR AS "at", price, "day"::VARCHAR AS "day", tod::VARCHAR AS tod, code FROM $F')
  t.same(rows, [
    { id: '1', name: 'a', tags: '[x, y]', at: '1700000000123000', price: 1.5, day: '2024-05-01', tod: '01:01:01', code: 'short' },
    { id: '2', name: null, tags: null, at: null, price: null, day: null, tod: null, code: null },
    { id: '3', name: 'ccc', tags: '[]', at: '0', price: -2.25, day: '1970-01-02', tod: '00:00:00', code: 'a string longer than twelve bytes' }
  ])
})

t.test('a null count that disagrees with the bitmap is recomputed, and a null where the topic has none is refused', async (t) => {
  const topic = toArrowSchema({ fields: [{ name: 'n', type: 'int32', nullable: false }] })
  const v = vectorFromArray([1, null, 3], new Int32()).data[0]
  // the producer claims no nulls (as flechette does for a fixed-size-list child) while its bitmap has one
  const lying = v.clone(v.type, v.offset, v.length, 0)
  const f = [new Field('n', new Int32(), true)]
  const batch = new RecordBatch(new Schema(f), makeData({ type: new Struct(f), length: 3, nullCount: 0, children: [lying] }))
  const out = normaliseBatch(batch, topic, null)
  t.equal(out.getChildAt(0)!.nullCount, 1)
  t.throws(() => checkTopicNulls(out), { code: 'QUIVER_INVALID_ARROW', message: 'Invalid Arrow IPC data: column "n": declared non-nullable but holds nulls' })
})

t.test('over HTTP: a producer stream in wider/other encodings → 200; a lossy one → 422 naming field, both types and what is accepted', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  const writer = localToken(dataDir, ['write'])
  t.equal((await app.inject({ method: 'POST', url: '/v1/topics', headers: { authorization: `Bearer ${admin}` }, payload: { name: 'conv', schema: TOPIC } })).statusCode, 201)
  const w = new RecordBatchStreamWriter()
  const b = producerBatch()
  w.reset(undefined, b.schema)
  w.write(b)
  w.finish()
  const body = Buffer.from(w.toUint8Array(true))
  const post = (payload: Buffer) => app.inject({ method: 'POST', url: '/v1/topics/conv/records', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' }, payload })
  const ok = await post(body)
  t.same([ok.statusCode, ok.json()], [200, { topic: 'conv', rows: 3, batches: 1, bytes: body.byteLength, ack: 'durable' }])
  // int64 into the int32-declared... the other way round: a topic column narrower than the stream
  const narrow = toArrowSchema({ fields: TOPIC.fields.map((f) => f.name === 'price' ? { ...f, type: 'float' } : f) })
  const m = matchSchema(narrow, toArrowSchema(TOPIC))
  t.same(m, { ok: false, message: 'price: expected float, got double; accepted: halffloat, float' })
  const lossy = new RecordBatchStreamWriter()
  const f = [new Field('id', new Float32(), true)]
  lossy.reset(undefined, new Schema(f))
  lossy.write(new RecordBatch(new Schema(f), makeData({ type: new Struct(f), length: 1, nullCount: 0, children: [vectorFromArray([1], new Float32()).data[0]] })))
  lossy.finish()
  const refused = await post(Buffer.from(lossy.toUint8Array(true)))
  t.equal(refused.statusCode, 422)
  t.match(refused.json(), { code: 'QUIVER_SCHEMA_MISMATCH', message: /id: expected int64, got float; accepted: int8, int16, int32, int64, uint8, uint16, uint32/ })
})
