import { test } from 'tap'
import { join } from 'node:path'
import * as fl from '@uwdata/flechette'
import { Field, FixedSizeList, Int32, List, makeData, RecordBatch, Schema, Struct, Table, tableToIPC, vectorFromArray } from 'apache-arrow'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { parquetFiles } from '../reliability/lib/parquet.ts'

/*
 * Arrow allows empty field names, and apache-arrow JS writes them (reading them back as null). A
 * topic cannot hold one: a top-level field "" sent to a new topic answered 500 (a TypeError in
 * the auto-create path), and a struct child "" answered 422 with an identical expected/got
 * message while creating the topic anyway, which no stream could then write. Both are now 400
 * QUIVER_INVALID_SCHEMA naming the field, before any topic is created or changed. List items stay
 * free to be unnamed (flechette's are; CONTRACT §9).
 */

const invalid = (message: string) => ({ statusCode: 400, code: 'QUIVER_INVALID_SCHEMA', error: 'Bad Request', message: `Invalid schema: ${message}` })
const notFound = (name: string) => ({ statusCode: 404, code: 'QUIVER_TOPIC_NOT_FOUND', error: 'Not Found', message: `Topic "${name}" does not exist` })
const structChild = (path: string, i: number) => `field "${path}": struct field ${i} has an empty name (struct fields need names; list items may be unnamed)`

function ints (names: string[]): Buffer {
  const fields = names.map((n) => new Field(n, new Int32(), true))
  const cols = names.map((_, i) => makeData({ type: new Int32(), length: 1, nullCount: 0, data: Int32Array.from([i + 1]) }))
  const batch = new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: 1, nullCount: 0, children: cols }))
  return Buffer.from(tableToIPC(new Table([batch]), 'stream'))
}

const withStruct = (children: string[]) => {
  const type = new Struct(children.map((n) => new Field(n, new Int32(), true)))
  return Buffer.from(tableToIPC(new Table({ s: vectorFromArray([Object.fromEntries(children.map((n, i) => [n, i + 1]))], type) }), 'stream'))
}

test('empty field names in Arrow streams: 400 naming the field, nothing created, committed or evolved', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  const call = async (method: 'GET' | 'POST', url: string, payload?: object | Buffer) => {
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${admin}`, ...(Buffer.isBuffer(payload) ? { 'content-type': 'application/vnd.apache.arrow.stream' } : {}) }, ...(payload === undefined ? {} : { payload }) })
    return { status: res.statusCode, body: res.json() }
  }

  // new topics (auto-create): refused before the catalog is written, every time
  for (let attempt = 0; attempt < 2; attempt++) {
    t.same(await call('POST', '/v1/topics/top/records', ints([''])), { status: 400, body: invalid('field 0 has an empty name') })
    t.same(await call('POST', '/v1/topics/top2/records', ints(['a', ''])), { status: 400, body: invalid('field 1 has an empty name') })
    t.same(await call('POST', '/v1/topics/nested/records', withStruct([''])), { status: 400, body: invalid(structChild('s', 0)) })
    t.same(await call('POST', '/v1/topics/nested2/records', withStruct(['x', ''])), { status: 400, body: invalid(structChild('s', 1)) })
  }
  for (const name of ['top', 'top2', 'nested', 'nested2']) t.same(await call('GET', `/v1/topics/${name}`), { status: 404, body: notFound(name) }, name)

  // existing topics: the same answers, the schema unchanged
  t.equal((await call('POST', '/v1/topics', { name: 'kept', schema: { fields: [{ name: 'a', type: 'int32', nullable: true }, { name: 's', type: 'struct<x: int32>', nullable: true }] } })).status, 201)
  t.same(await call('POST', '/v1/topics/kept/records', ints(['a', ''])), { status: 400, body: invalid('field 1 has an empty name') })
  t.same(await call('POST', '/v1/topics/kept/records', withStruct(['x', ''])), { status: 400, body: invalid(structChild('s', 1)) })
  const kept = await call('GET', '/v1/topics/kept')
  t.same([kept.body.schemaVersion, kept.body.schema.fields.map((f: { type: string }) => f.type), kept.body.stats.rows], [1, ['int32', 'struct<x: int32>'], 0])
  t.same(parquetFiles(dataDir), [])
})

test('unnamed list items still land (flechette, apache-arrow), and read back', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  const post = async (topic: string, payload: Buffer) => {
    const res = await app.inject({ method: 'POST', url: `/v1/topics/${topic}/records`, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/vnd.apache.arrow.stream' }, payload })
    return { status: res.statusCode, rows: res.json().rows }
  }
  const flechette = Buffer.from(fl.tableToIPC(fl.tableFromArrays({ l: [[1, 2], [3]] }, { types: { l: fl.list(fl.int32()) } }), { format: 'stream' })!)
  t.same(await post('fl_list', flechette), { status: 200, rows: 2 })
  const unnamed = new Field('', new Int32(), true)
  const arrow = Buffer.from(tableToIPC(new Table({
    l: vectorFromArray([[1, 2], [3]], new List(unnamed)),
    f: vectorFromArray([[1, 2], [3, 4]], new FixedSizeList(2, unnamed)),
    s: vectorFromArray([{ inner: [5] }, { inner: [] }], new Struct([new Field('inner', new List(unnamed), true)]))
  }), 'stream'))
  t.same(await post('js_list', arrow), { status: 200, rows: 2 })
  const schema = await app.inject({ url: '/v1/topics/js_list', headers: { authorization: `Bearer ${admin}` } })
  t.same(schema.json().schema.fields.map((f: { type: string }) => f.type), ['list<item: int32>', 'fixed_size_list<item: int32>[2]', 'struct<inner: list<item: int32>>'])
  const read = await app.inject({ url: '/v1/topics/js_list/records', headers: { authorization: `Bearer ${admin}`, accept: 'application/x-ndjson' } })
  t.same(read.body.trim().split('\n').map((l) => { const { l: list, f, s } = JSON.parse(l); return { l: list, f, s } }), [
    { l: [1, 2], f: [1, 2], s: { inner: [5] } },
    { l: [3], f: [3, 4], s: { inner: [] } }
  ])
  t.equal(parquetFiles(join(dataDir, 'fl_list')).length, 1)
})
