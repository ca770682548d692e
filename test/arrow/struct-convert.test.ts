import t from 'tap'
import { Field, Int16, LargeList, LargeUtf8, type RecordBatch, Struct, Table, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow'
import { convertible } from '../../src/arrow/convert.ts'
import { matchSchema, normaliseBatch } from '../../src/arrow/compare.ts'
import { checkTopicNulls } from '../../src/arrow/validate.ts'
import { parseType, toArrowSchema } from '../../src/schema/types.ts'

/*
 * Schema evolution inside structs: a struct column converts by field name, in any order; a nullable
 * field the source lacks is stored as nulls (a producer still on the old shape, or an object
 * written before the struct gained the field), a not-null one makes the types differ.
 */

t.test('convertible: struct fields by name, missing ones only when nullable, extra ones never', async (t) => {
  const to = parseType('struct<a: int64, b: string, c: struct<d: bool>>')
  t.ok(convertible(to, parseType('struct<b: large_string, a: int16>')), 'another order, narrower, c left out')
  t.ok(convertible(to, parseType('struct<a: int64, c: struct<>>')), 'd left out inside c')
  t.notOk(convertible(to, parseType('struct<a: int64, x: int32>')), 'a field the topic lacks')
  t.notOk(convertible(parseType('struct<a: int64 not null>'), parseType('struct<b: string>')), 'a not-null field left out')
  t.notOk(convertible(to, parseType('struct<a: double>')), 'a lossy field')
})

t.test('normaliseBatch fills the missing struct fields with nulls, at any depth, also for a sliced batch', async (t) => {
  const topic = toArrowSchema({ fields: [{ name: 'st', type: 'struct<a: int64, b: string, c: int32>', nullable: true }, { name: 'l', type: 'list<item: struct<x: int16, y: string>>', nullable: true }] })
  const stType = new Struct([new Field('b', new LargeUtf8(), true), new Field('a', new Int16(), true)])
  const itemType = new Struct([new Field('x', new Int16(), true)])
  const table = new Table({
    st: vectorFromArray([{ b: 'p', a: 1 }, null, { b: null, a: 3 }, { b: 'q', a: -4 }], stType),
    l: vectorFromArray([[{ x: 1 }], null, [], [{ x: 2 }, { x: null }]], new LargeList(new Field('item', itemType, true)))
  })
  // through IPC, as a producer's stream arrives
  const batch = tableFromIPC(tableToIPC(table, 'stream')).batches[0]
  for (const [what, b] of [['whole', batch], ['sliced', batch.slice(1, 4)]] as Array<[string, RecordBatch]>) {
    const match = matchSchema(topic, b.schema)
    t.same(match, { ok: true, reorder: null }, what)
    const out = normaliseBatch(b, topic, null)
    checkTopicNulls(out)
    t.equal(out.schema, topic)
    // written and read again: the buffers are a valid IPC stream of the topic's schema
    const back = tableFromIPC(tableToIPC(new Table(out), 'stream'))
    t.same(String(back.schema.fields[0].type), 'Struct<{a:Int64, b:Utf8, c:Int32}>')
    const rows = back.toArray().map((r) => JSON.parse(JSON.stringify(r.toJSON(), (_k, v) => typeof v === 'bigint' ? Number(v) : v)))
    const all = [
      { st: { a: 1, b: 'p', c: null }, l: [{ x: 1, y: null }] },
      { st: null, l: null },
      { st: { a: 3, b: null, c: null }, l: [] },
      { st: { a: -4, b: 'q', c: null }, l: [{ x: 2, y: null }, { x: null, y: null }] }
    ]
    t.same(rows, what === 'whole' ? all : all.slice(1), `${what}: values`)
  }
})
