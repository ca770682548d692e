import t from 'tap'
import { applyChanges, schemaChanges, streamEvolution } from '../../src/catalog/evolution.ts'
import { toArrowSchema } from '../../src/schema/types.ts'
import type { FieldSpec, TopicRecord } from '../../src/schema/topic-schema.ts'

const F = (name: string, type: string, nullable = true): FieldSpec => ({ name, type, nullable })
const topic = (fields: FieldSpec[], extra: Partial<TopicRecord> = {}): TopicRecord => ({ name: 't', schema: { fields }, createdAt: '2026-01-01T00:00:00.000Z', ...extra })
const BASE = [F('id', 'int64', false), F('n', 'int32'), F('s', 'string'), F('ts', 'timestamp[ms, tz=UTC]', false)]

t.test('compatible: new nullable fields, lossless widenings, not null → nullable; the change lists only what changes', async (t) => {
  const desired = [F('id', 'int64', false), F('n', 'int64'), F('s', 'large_string'), F('ts', 'timestamp[us, tz=UTC]'), F('tag', 'string'), F('price', 'decimal128(12, 2)')]
  const changes = schemaChanges(topic(BASE), { fields: desired })
  t.same(changes, [F('n', 'int64'), F('s', 'large_string'), F('ts', 'timestamp[us, tz=UTC]'), F('tag', 'string'), F('price', 'decimal128(12, 2)')])
  t.same(applyChanges({ fields: BASE }, changes), { fields: [F('id', 'int64', false), F('n', 'int64'), F('s', 'large_string'), F('ts', 'timestamp[us, tz=UTC]'), F('tag', 'string'), F('price', 'decimal128(12, 2)')] })
  t.same(schemaChanges(topic(BASE), { fields: [...BASE].reverse() }), [], 'the same fields in another order change nothing')
  t.equal(applyChanges({ fields: BASE }, []), null)
})

t.test('incompatible: each field named with why, all at once', async (t) => {
  const desired = [F('id', 'int32', false), F('s', 'string', false), F('ts', 'timestamp[ms, tz=UTC]', false), F('req', 'string', false), F('bad', 'int64')]
  t.throws(() => schemaChanges(topic(BASE), { fields: desired }), {
    code: 'QUIVER_SCHEMA_INCOMPATIBLE',
    statusCode: 422,
    message: 'Schema change is not compatible: n: removed (fields are never dropped; stored rows keep it); ' +
      'id: int64 cannot become int32 (only a lossless widening keeps every stored value); ' +
      's: cannot become not null (stored rows may hold nulls); ' +
      'req: a new field must be nullable (the rows stored before have no value)'
  })
  t.throws(() => schemaChanges(topic(BASE), { fields: [...BASE, F('x', 'dubble')] }), { code: 'QUIVER_INVALID_SCHEMA', statusCode: 400 }, 'an unparseable type is a bad request, not an incompatibility')
  t.throws(() => schemaChanges(topic(BASE), { fields: [F('id', 'string', false), F('n', 'int32'), F('s', 'string'), F('ts', 'timestamp[ms, tz=UTC]', false)] }), {
    message: 'Schema change is not compatible: id: int64 cannot become string (only a lossless widening keeps every stored value)'
  })
})

t.test('partition fields keep their type and nullability', async (t) => {
  const partitioned = topic([F('tenant', 'string'), F('ts', 'timestamp[us, tz=UTC]', false)], { partitionBy: ['tenant'], timePartition: { field: 'ts', granularity: 'day' } })
  t.throws(() => schemaChanges(partitioned, { fields: [F('tenant', 'large_string'), F('ts', 'timestamp[us, tz=UTC]')] }), {
    message: 'Schema change is not compatible: tenant: partitions are keyed by it, so its type and nullability stay string; ts: partitions are keyed by it, so its type and nullability stay timestamp[us, tz=UTC] not null'
  })
})

t.test('a change applied on top of a concurrent one keeps both sides', async (t) => {
  const mine = schemaChanges(topic(BASE), { fields: [...BASE, F('a', 'string')] })
  const theirs = { fields: [...BASE, F('b', 'double')] }
  t.same(applyChanges(theirs, mine), { fields: [...BASE, F('b', 'double'), F('a', 'string')] }, 'their field kept, mine appended')
  t.equal(applyChanges({ fields: [...BASE, F('a', 'string')] }, mine), null, 'already there: nothing to write')
  const widen = schemaChanges(topic(BASE), { fields: [F('id', 'int64', false), F('n', 'int32'), F('s', 'string'), F('ts', 'timestamp[us, tz=UTC]', false)] })
  const wider = { fields: [F('id', 'int64', false), F('n', 'int32'), F('s', 'string'), F('ts', 'timestamp[ns, tz=UTC]', false)] }
  t.equal(applyChanges(wider, widen), null, 'a field widened further meanwhile keeps the wider type')
})

t.test('streamEvolution: the stream\'s fields the topic lacks, in stream order, dictionaries as their values', async (t) => {
  const incoming = toArrowSchema({ fields: [F('z', 'dictionary<values=string, indices=int32>'), F('id', 'int64', false), F('a', 'list<item: int32>', false)] })
  t.same(streamEvolution({ fields: BASE }, incoming), {
    schema: { fields: [...BASE, F('z', 'string'), F('a', 'list<item: int32>')] }, added: ['z', 'a'], notNull: ['a']
  })
  t.equal(streamEvolution({ fields: BASE }, toArrowSchema({ fields: [F('id', 'int64')] })), null)
})

const ST = F('st', 'struct<a: int32, b: string not null>')

t.test('streamEvolution inside structs: fields added at any depth (struct, list item, map value), nothing else changed', async (t) => {
  const topicFields = [F('id', 'int64', false), ST, F('l', 'list<item: struct<x: int32>>'), F('m', 'map<string, struct<v: int32>>')]
  const incoming = toArrowSchema({
    fields: [
      F('id', 'int32', false),
      F('st', 'struct<b: large_string not null, a: int32, c: dictionary<values=string, indices=int32>, d: struct<e: bool not null> not null>'),
      F('l', 'large_list<item: struct<x: int16, y: double>>'),
      F('m', 'map<string, struct<v: int32, w: string>>')
    ]
  })
  t.same(streamEvolution({ fields: topicFields }, incoming), {
    schema: {
      fields: [
        F('id', 'int64', false),
        F('st', 'struct<a: int32, b: string not null, c: string, d: struct<e: bool not null>>'),
        F('l', 'list<item: struct<x: int32, y: double>>'),
        F('m', 'map<string, struct<v: int32, w: string>>')
      ]
    },
    added: ['st.c', 'st.d', 'l.item.y', 'm.value.w'],
    notNull: ['st.d']
  })
  t.equal(streamEvolution({ fields: topicFields }, toArrowSchema({ fields: [F('st', 'struct<a: int64>')] })), null, 'a wider type inside: no evolution (validation names it)')
})

t.test('PATCH inside structs: nullable fields added; removed, not-null, narrowed fields named by path', async (t) => {
  const base = topic([F('id', 'int64', false), ST, F('l', 'list<item: struct<x: int32>>')])
  t.same(schemaChanges(base, { fields: [F('id', 'int64', false), F('st', 'struct<a: int64, b: string, c: date32[day]>'), F('l', 'large_list<item: struct<x: int32, y: string>>')] }), [
    F('st', 'struct<a: int64, b: string, c: date32[day]>'), F('l', 'large_list<item: struct<x: int32, y: string>>')
  ], 'widened, made nullable, and a field added inside')
  t.throws(() => schemaChanges(base, { fields: [F('id', 'int64', false), F('st', 'struct<a: int16, c: string not null>'), F('l', 'list<item: struct<x: int32, y: string not null>>')] }), {
    code: 'QUIVER_SCHEMA_INCOMPATIBLE',
    message: 'Schema change is not compatible: st.a: int32 cannot become int16 (only a lossless widening keeps every stored value); ' +
      'st.b: removed (fields are never dropped; stored rows keep it); st.c: a new field must be nullable (the rows stored before have no value); ' +
      'l.item.y: a new field must be nullable (the rows stored before have no value)'
  })
  t.throws(() => schemaChanges(topic([F('st', 'struct<a: int32>')]), { fields: [F('st', 'struct<a: int32 not null>')] }), {
    message: 'Schema change is not compatible: st.a: cannot become not null (stored rows may hold nulls)'
  })
})

t.test('two changes to one struct made at once keep both sides\' fields', async (t) => {
  const base = topic([F('id', 'int64', false), ST])
  const mine = schemaChanges(base, { fields: [F('id', 'int64', false), F('st', 'struct<a: int32, b: string not null, c: double>')] })
  const theirs = { fields: [F('id', 'int64', false), F('st', 'struct<a: int64, b: string not null, d: bool>')] }
  t.same(applyChanges(theirs, mine), { fields: [F('id', 'int64', false), F('st', 'struct<a: int64, b: string not null, d: bool, c: double>')] }, 'their widening and field kept, mine appended')
  t.equal(applyChanges({ fields: [F('id', 'int64', false), F('st', 'struct<a: int32, b: string not null, c: double, d: bool>')] }, mine), null, 'already there')
})
