import t from 'tap'
import { Dictionary, Field, Int32, Int64, Schema, Utf8, Float64, vectorFromArray, makeData, RecordBatch, Struct, List } from 'apache-arrow'
import { matchSchema, normaliseBatch } from '../../src/arrow/compare.ts'
import { toArrowSchema } from '../../src/schema/types.ts'
import { makeBatch, TEST_ARROW_SCHEMA, TEST_FIELDS } from '../helpers/arrow.ts'
import { growth, LINEAR } from '../helpers/cost.ts'

const schemaOf = (spec: Array<[string, string, boolean?]>): Schema =>
  toArrowSchema({ fields: spec.map(([name, type, nullable]) => ({ name, type, nullable: nullable ?? true })) })

t.test('same fields in the same order → ok without reorder, cached by schema object', async (t) => {
  const incoming = toArrowSchema({ fields: TEST_FIELDS })
  const r = matchSchema(TEST_ARROW_SCHEMA, incoming)
  t.same(r, { ok: true, reorder: null })
  t.equal(matchSchema(TEST_ARROW_SCHEMA, incoming), r, 'second call returns the cached result')
})

t.test('reordered columns → mapping to the topic order, normalised batch has the topic schema object', async (t) => {
  const batch = makeBatch(4, 10)
  const order = [3, 0, 4, 2, 1] // ts, id, ok, price, name
  const shuffled = batch.selectAt(order)
  const r = matchSchema(TEST_ARROW_SCHEMA, shuffled.schema)
  t.same(r, { ok: true, reorder: [1, 4, 3, 0, 2] })
  if (!r.ok) return
  const out = normaliseBatch(shuffled, TEST_ARROW_SCHEMA, r.reorder)
  t.equal(out.schema, TEST_ARROW_SCHEMA)
  t.equal(out.numRows, 4)
  t.same(out.get(1)?.toJSON(), { id: 11n, name: 'name-11', price: 16.5, ts: 1714564811000, ok: false })
  t.equal(out.getChildAt(0)?.data[0].values.buffer, batch.getChildAt(0)?.data[0].values.buffer, 'buffers shared, not copied')
})

t.test('mismatch messages name missing, unexpected and differing fields, with what would be accepted', async (t) => {
  const topic = schemaOf([['id', 'int64', false], ['price', 'double'], ['ts', 'timestamp[us, tz=UTC]'], ['ok', 'bool']])
  const cases: Array<[Schema, string]> = [
    [schemaOf([['id', 'int64', false], ['price', 'int64'], ['ts', 'timestamp[us, tz=UTC]'], ['ok', 'bool']]), 'price: expected double, got int64; accepted: halffloat, float, double'],
    [schemaOf([['id', 'int64', false], ['price', 'double'], ['ts', 'timestamp[ns, tz=UTC]'], ['ok', 'bool']]), 'ts: expected timestamp[us, tz=UTC], got timestamp[ns, tz=UTC]; accepted: timestamp[s|ms|us, tz=UTC]'],
    [schemaOf([['id', 'int64', false], ['price', 'double'], ['ts', 'timestamp[us]'], ['ok', 'bool']]), 'ts: expected timestamp[us, tz=UTC], got timestamp[us]; accepted: timestamp[s|ms|us, tz=UTC]'],
    // nullable topic fields may be omitted (schema evolution): only the not-null ones are missing
    [schemaOf([['id', 'int64', false], ['ok', 'bool'], ['extra', 'string']]), 'unexpected fields: extra'],
    [schemaOf([['ok', 'bool'], ['extra', 'string']]), 'missing fields: id (not null in the topic); unexpected fields: extra'],
    [schemaOf([['ok', 'string'], ['id', 'uint64', false], ['price', 'double'], ['ts', 'timestamp[us, tz=UTC]']]),
      'ok: expected bool, got string; accepted: the same type; id: expected int64, got uint64; accepted: int8, int16, int32, int64, uint8, uint16, uint32'],
    [new Schema([...topic.fields, new Field('id', new Int64(), false)]), 'duplicate fields: id']
  ]
  for (const [incoming, message] of cases) t.same(matchSchema(topic, incoming), { ok: false, message }, message)
  // Lossless pairs: accepted (nullability is checked on the data, not the declaration)
  t.same(matchSchema(topic, schemaOf([['id', 'int32'], ['price', 'float'], ['ts', 'timestamp[ms, tz=UTC]'], ['ok', 'bool']])), { ok: true, reorder: null })
})

t.test('nested types are compared deeply; list child names and encodings never make schemas differ', async (t) => {
  const topic = schemaOf([['a', 'int64'], ['s', 'struct<x: int32 not null, y: list<item: string>>'], ['l', 'list<item: double>']])
  t.same(matchSchema(topic, schemaOf([['a', 'int64', false], ['s', 'struct<x: int32 not null, y: list<element: string not null>>'], ['l', 'list<double>']])), { ok: true, reorder: null })
  t.same(matchSchema(topic, schemaOf([['a', 'int32'], ['s', 'struct<x: int16, y: large_list<: large_string>>'], ['l', 'large_list<item: float>']])), { ok: true, reorder: null })
  // struct fields by name in any order; a nullable one may be left out (schema evolution inside structs), a not-null one not
  t.same(matchSchema(topic, schemaOf([['a', 'int64'], ['s', 'struct<x: int32 not null>'], ['l', 'list<item: float>']])), { ok: true, reorder: null })
  t.same(matchSchema(topic, schemaOf([['a', 'int64'], ['s', 'struct<y: list<item: string>, x: int32 not null>'], ['l', 'list<item: int64>']])),
    { ok: false, message: 'l: expected list<item: double>, got list<item: int64>; accepted: list or large_list of an accepted item type' })
  t.same(matchSchema(topic, schemaOf([['s', 'struct<y: list<item: string>>'], ['a', 'int64']])), {
    ok: false, message: 's: expected struct<x: int32 not null, y: list<item: string>>, got struct<y: list<item: string>>; accepted: a struct with these fields by name, in any order, each of an accepted type; nullable ones may be left out'
  })
})

t.test('dictionary-encoded strings match a string field and are decoded to plain strings', async (t) => {
  const topic = schemaOf([['tag', 'string'], ['n', 'int32']])
  const tags = vectorFromArray(['b', 'a', null, 'b', 'ccc'], new Dictionary(new Utf8(), new Int32()))
  const n = vectorFromArray([1, 2, 3, 4, 5], new Int32())
  const fields = [new Field('n', new Int32(), true), new Field('tag', tags.type, true)]
  const batch = new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: 5, nullCount: 0, children: [n.data[0], tags.data[0]] }))
  const r = matchSchema(topic, batch.schema)
  t.same(r, { ok: true, reorder: [1, 0] })
  if (!r.ok) return
  const out = normaliseBatch(batch, topic, r.reorder)
  t.equal(out.schema, topic)
  t.equal(String(out.getChildAt(0)?.type), 'Utf8')
  t.same(out.toArray().map(r => r.toJSON()), [
    { tag: 'b', n: 1 }, { tag: 'a', n: 2 }, { tag: null, n: 3 }, { tag: 'b', n: 4 }, { tag: 'ccc', n: 5 }
  ])
  t.same(matchSchema(topic, new Schema([new Field('tag', new Dictionary(new Int64(), new Int32()), true), fields[0]])),
    { ok: false, message: 'tag: expected string, got dictionary<values=int64, indices=int32, ordered=0>; accepted: string, large_string, string_view or dictionary<values=string>' })
})

t.test('dictionary of doubles under a double field is decoded through the generic path', async (t) => {
  const topic = schemaOf([['v', 'double']])
  const v = vectorFromArray([1.5, 2.5, 1.5], new Dictionary(new Float64(), new Int32()))
  const fields = [new Field('v', v.type, true)]
  const batch = new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: 3, nullCount: 0, children: [v.data[0]] }))
  const out = normaliseBatch(batch, topic, null)
  t.same([...out.getChildAt(0)!], [1.5, 2.5, 1.5])
})

t.test('10,000 columns: match and normalise stay linear', async (t) => {
  const columns = (n: number) => {
    const fields = Array.from({ length: n }, (_, i) => new Field(`c${i}`, new Int32(), true))
    const incoming = new Schema(fields.map(f => new Field(f.name, new Int32(), true)))
    return { topic: new Schema(fields), incoming, reversed: new Schema([...incoming.fields].reverse()) }
  }
  const { topic, incoming, reversed } = columns(10_000)
  t.same(matchSchema(topic, incoming), { ok: true, reorder: null })
  const r = matchSchema(topic, reversed)
  t.ok(r.ok)
  t.equal(r.ok && r.reorder?.[0], 9999)
  const mismatched = (s: Schema) => new Schema(s.fields.map((f, i) => i === s.fields.length / 2 ? new Field(f.name, new List(new Field('item', new Int32())), true) : f))
  t.same(matchSchema(topic, mismatched(incoming)), { ok: false, message: 'c5000: expected int32, got list<item: int32 not null>; accepted: int8, int16, int32, uint8, uint16' })
  // CPU at 2,500 and 10,000 columns compared in this run (test/helpers/cost.ts); the schemas are
  // new objects each time, as the result is cached per schema object.
  const matching = await growth((n) => {
    const c = columns(n)
    matchSchema(c.topic, c.incoming)
    matchSchema(c.topic, c.reversed)
    matchSchema(c.topic, mismatched(c.incoming))
  }, 2_500)
  t.ok(matching.ratio < LINEAR, `three comparisons linear in the column count: ${matching.text}`)

  const col = vectorFromArray([1, 2], new Int32()).data[0]
  const batchOf = (s: Schema) => new RecordBatch(s, makeData({ type: new Struct(s.fields), length: 2, nullCount: 0, children: s.fields.map(() => col) }))
  const batch = batchOf(reversed)
  t.same(normaliseBatch(batch, topic, r.ok ? r.reorder : null).schema.fields.map(f => f.name), topic.fields.map(f => f.name))
  const prepared = new Map<number, { batch: RecordBatch, topic: Schema, reorder: number[] | null }>()
  for (const n of [2_500, 10_000]) {
    const c = columns(n)
    const m = matchSchema(c.topic, c.reversed)
    prepared.set(n, { batch: batchOf(c.reversed), topic: c.topic, reorder: m.ok ? m.reorder : null })
  }
  const normalising = await growth((n) => {
    const p = prepared.get(n)!
    for (let i = 0; i < 10; i++) normaliseBatch(p.batch, p.topic, p.reorder)
  }, 2_500)
  t.ok(normalising.ratio < LINEAR, `10 normalisations linear in the column count: ${normalising.text}`)
})

t.test('a very wide mismatch names the first 20 fields and counts the rest', async (t) => {
  const wide = schemaOf(Array.from({ length: 500 }, (_, i): [string, string] => [`c${i}`, 'int64']))
  const r = matchSchema(TEST_ARROW_SCHEMA, wide)
  const first = Array.from({ length: 20 }, (_, i) => `c${i}`).join(', ')
  t.same(r, { ok: false, message: `missing fields: id, ts (not null in the topic); unexpected fields: ${first}, … and 480 more` })
  const sameNames = schemaOf(Array.from({ length: 30 }, (_, i): [string, string] => [`c${i}`, 'string']))
  const typed = schemaOf(Array.from({ length: 30 }, (_, i): [string, string] => [`c${i}`, 'int64']))
  const m = matchSchema(sameNames, typed)
  t.equal(m.ok, false)
  t.match((m as { message: string }).message, /^c0: expected string, got int64; accepted: [^;]+; .*c19: expected string, got int64; accepted: [^;]+; … and 10 more$/)
})

t.test('a stream that omits nullable fields matches; the normalised batch holds nulls there', async (t) => {
  const topic = schemaOf([['id', 'int64', false], ['note', 'string'], ['tags', 'list<item: string>'], ['amount', 'decimal128(10, 2)']])
  const incoming = schemaOf([['id', 'int64', false]])
  const r = matchSchema(topic, incoming)
  t.same(r, { ok: true, reorder: [0, -1, -1, -1] })
  const batch = new RecordBatch(incoming, makeData({ type: new Struct(incoming.fields), length: 3, nullCount: 0, children: [vectorFromArray([1n, 2n, 3n], new Int64()).data[0]] }))
  const out = normaliseBatch(batch, topic, r.ok ? r.reorder : null)
  t.equal(out.schema, topic)
  t.same(out.toArray().map((row) => row.toJSON()), [1n, 2n, 3n].map((id) => ({ id, note: null, tags: null, amount: null })))
  t.same(out.data.children.map((c) => c.nullCount), [0, 3, 3, 3])
})
