import t from 'tap'
import { Field, Int32, List, Schema, Timestamp, TimeUnit, Type, Utf8, Dictionary } from 'apache-arrow'
import { formatType, fromArrowSchema, parseType, toArrowSchema, TypeParseError, validateTopicSchema } from '../../src/schema/types.ts'
import { TEST_TOPIC_SCHEMA } from '../helpers/arrow.ts'
import { growth, leastCpuMsEach, LINEAR } from '../helpers/cost.ts'

t.test('every canonical name round-trips through parseType/formatType', async (t) => {
  const names = [
    'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'halffloat', 'float', 'double',
    'string', 'large_string', 'binary', 'large_binary', 'date32[day]', 'timestamp[s]', 'timestamp[ms]', 'timestamp[us]',
    'timestamp[ns]', 'timestamp[us, tz=UTC]', 'timestamp[ns, tz=Europe/Paris]', 'timestamp[ms, tz=+01:00]',
    'list<item: int64>', 'list<item: string not null>', 'struct<a: int32, b: string not null>',
    'struct<a: list<item: struct<c: timestamp[us, tz=UTC], d: double>>, e: bool>', 'struct<>',
    // the declared types and their lossless conversions
    'decimal128(10, 2)', 'decimal128(38, 0)', 'decimal256(76, 10)', 'time32[s]', 'time32[ms]', 'time64[us]', 'time64[ns]',
    'date64[ms]', 'duration[s]', 'duration[ms]', 'duration[us]', 'duration[ns]', 'timestamp[us, tz=Europe/Helsinki]',
    'fixed_size_binary[16]', 'large_list<item: double>', 'fixed_size_list<item: float>[3]', 'map<string, int32>',
    'map<int64, list<item: string> not null>', 'dictionary<values=string, indices=int32, ordered=0>',
    'dictionary<values=large_string, indices=uint32, ordered=1>', 'string_view', 'binary_view',
    'struct<m: map<string, decimal128(12, 2)>, f: fixed_size_list<item: int8 not null>[2]>'
  ]
  for (const n of names) t.equal(formatType(parseType(n)), n, n)
})

t.test('aliases and loose spellings map to canonical names', async (t) => {
  const cases: Record<string, string> = {
    boolean: 'bool',
    float32: 'float',
    float64: 'double',
    float16: 'halffloat',
    utf8: 'string',
    large_utf8: 'large_string',
    date32: 'date32[day]',
    'timestamp[us,tz=UTC]': 'timestamp[us, tz=UTC]',
    '  list<int32>  ': 'list<item: int32>',
    'list<element: utf8>': 'list<item: string>',
    'list<: int32>': 'list<item: int32>',
    'large_list<element: large_string>': 'large_list<item: large_string>',
    'decimal(5, 1)': 'decimal128(5, 1)',
    date64: 'date64[ms]',
    utf8_view: 'string_view',
    'struct<a:int8,b:boolean>': 'struct<a: int8, b: bool>'
  }
  for (const [input, canonical] of Object.entries(cases)) t.equal(formatType(parseType(input)), canonical, input)
})

t.test('parseType builds the exact apache-arrow types', async (t) => {
  const ts = parseType('timestamp[ns, tz=UTC]') as Timestamp
  t.equal(ts.typeId, Type.Timestamp)
  t.equal(ts.unit, TimeUnit.NANOSECOND)
  t.equal(ts.timezone, 'UTC')
  const l = parseType('list<item: int32 not null>') as List
  t.equal(l.children[0].name, 'item')
  t.equal(l.children[0].nullable, false)
  t.equal(l.children[0].type.typeId, Type.Int)
  t.ok(parseType('struct<a: int32>').children[0].nullable)
})

t.test('bad types throw TypeParseError naming the problem', async (t) => {
  const cases: Record<string, string> = {
    dubble: 'unknown type "dubble" at position 0 in "dubble"',
    '': 'expected a type name at position 0 in ""',
    'list<': 'expected a type name at position 5 in "list<"',
    'list<int32': 'expected ">" at position 10 in "list<int32"',
    'timestamp[xs]': 'unknown time unit "xs" at position 10 in "timestamp[xs]"',
    'time32[us]': 'unknown time unit "us" (expected s, ms) at position 7 in "time32[us]"',
    'decimal128(39, 2)': 'a precision must be between 1 and 38, got 39 at position 11 in "decimal128(39, 2)"',
    'decimal128(5, 6)': 'scale 6 is larger than precision 5 at position 0 in "decimal128(5, 6)"',
    'fixed_size_binary[0]': 'a byte width must be between 1 and 1048576, got 0 at position 18 in "fixed_size_binary[0]"',
    'dictionary<values=string, indices=double>': 'dictionary indices must be an integer type at position 34 in "dictionary<values=string, indices=double>"',
    'timestamp[us, zone=UTC]': 'expected "tz=" at position 14 in "timestamp[us, zone=UTC]"',
    'struct<a: int8, a: int8>': 'duplicate struct field "a" at position 0 in "struct<a: int8, a: int8>"',
    'struct<int8>': 'expected "name: type" at position 7 in "struct<int8>"',
    'int64 x': 'unexpected trailing text at position 6 in "int64 x"'
  }
  for (const [input, message] of Object.entries(cases)) {
    t.throws(() => parseType(input), { name: 'TypeParseError', message }, input)
  }
  const deep = 'list<'.repeat(40) + 'int8' + '>'.repeat(40)
  const err = t.throws(() => parseType(deep)) as TypeParseError
  t.ok(err instanceof TypeParseError)
  t.match(err.message, /^nesting deeper than 32 at position 160 in/)
  t.equal(formatType(parseType('list<'.repeat(31) + 'int8' + '>'.repeat(31))).length, 'list<item: '.length * 31 + 4 + 31)
})

t.test('validateTopicSchema names the offending field', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ fields: [] }, 'Invalid schema: at least one field is required'],
    [{ fields: [{ name: '', type: 'int64', nullable: true }] }, 'Invalid schema: field 0 has an empty name'],
    [{ fields: [{ name: '  ', type: 'int64', nullable: true }] }, 'Invalid schema: field 0 has an empty name'],
    [{ fields: [{ name: 'a', type: 'int64', nullable: true }, { name: 'a', type: 'string', nullable: true }] }, 'Invalid schema: duplicate field "a"'],
    [{ fields: [{ name: '__ingested_at', type: 'timestamp[us, tz=UTC]', nullable: false }] }, 'Invalid schema: field "__ingested_at" is reserved (added by the gateway)'],
    [{ fields: [{ name: 'price', type: 'dubble', nullable: true }] }, 'Invalid schema: field "price": unknown type "dubble" at position 0 in "dubble"']
  ]
  for (const [schema, message] of cases) {
    t.throws(() => validateTopicSchema(schema as never), { code: 'QUIVER_INVALID_SCHEMA', statusCode: 400, message }, message)
  }
  t.doesNotThrow(() => validateTopicSchema(TEST_TOPIC_SCHEMA))
})

t.test('toArrowSchema / fromArrowSchema round trip', async (t) => {
  const schema = toArrowSchema(TEST_TOPIC_SCHEMA)
  t.same(schema.fields.map(f => [f.name, String(f.type), f.nullable]), [
    ['id', 'Int64', false], ['name', 'Utf8', true], ['price', 'Float64', true],
    ['ts', 'Timestamp<MICROSECOND, UTC>', false], ['ok', 'Bool', true]
  ])
  t.same(fromArrowSchema(schema), TEST_TOPIC_SCHEMA)
  t.same(toArrowSchema({ fields: [{ name: 'x', type: 'utf8' } as never] }).fields[0].nullable, true)
  const withDict = new Schema([
    new Field('tag', new Dictionary(new Utf8(), new Int32()), true),
    new Field('xs', new List(new Field('item', new Int32(), true)), false)
  ])
  t.same(fromArrowSchema(withDict), { fields: [{ name: 'tag', type: 'string', nullable: true }, { name: 'xs', type: 'list<item: int32>', nullable: false }] })
  t.equal(formatType(new Dictionary(new Utf8(), new Int32())), 'dictionary<values=string, indices=int32, ordered=0>')
  t.equal(formatType(new Timestamp(TimeUnit.MILLISECOND, null)), 'timestamp[ms]')
})

t.test('schema size bounds: fields counted at every depth, type length, all linear', async (t) => {
  const built = new Map<string, string>()
  const memo = (key: string, make: () => string) => built.get(key) ?? built.set(key, make()).get(key)!
  const wide = (n: number) => memo(`wide ${n}`, () => `struct<${Array.from({ length: n }, (_, i) => `c${i}: bool`).join(', ')}>`)
  // 9,999 children + the field itself = 10,000: the most MAX_SCHEMA_FIELDS allows
  t.equal(toArrowSchema({ fields: [{ name: 's', type: wide(9_999), nullable: true }] }).fields[0].type.children.length, 9_999)
  t.throws(() => validateTopicSchema({ fields: [{ name: 's', type: wide(10_000), nullable: true }] }), {
    code: 'QUIVER_INVALID_SCHEMA',
    message: /^Invalid schema: field "s": the schema has more than 10000 fields counted at every nesting level \(MAX_SCHEMA_FIELDS\) at position \d+ in "struct<c0: bool, /
  })
  // the budget is shared by every field of one schema
  t.throws(() => validateTopicSchema({ fields: [{ name: 'a', type: wide(5_000), nullable: true }, { name: 'b', type: wide(5_000), nullable: true }] }), {
    message: /^Invalid schema: field "b": the schema has more than 10000 fields/
  })
  // 30,000 children (the 1.4 MB schema of the audit): refused after reading about a third of it
  t.throws(() => parseType(wide(30_000)), { name: 'TypeParseError', message: /more than 10000 fields/ })
  const refuses = (type: string) => () => { try { parseType(type) } catch {} }
  // Costs compared within this run (test/helpers/cost.ts), not with fixed milliseconds.
  const parse = await growth((n) => toArrowSchema({ fields: [{ name: 's', type: wide(n), nullable: true }] }), 2_400)
  t.ok(parse.ratio < LINEAR, `parsing is linear in the field count: ${parse.text}`)
  // Reading all 30,000 would cost three times as much as parsing the 9,999 allowed.
  const [parsed, refused] = await leastCpuMsEach([
    () => { for (let i = 0; i < 5; i++) parseType(wide(9_999)) },
    () => { for (let i = 0; i < 5; i++) refuses(wide(30_000))() }
  ])
  t.ok(refused < 2 * parsed, `30,000 fields refused for ${refused.toFixed(1)} ms of CPU, about what parsing the 9,999 allowed costs (${parsed.toFixed(1)} ms): reading stops at the limit`)

  const long = (n: number) => memo(`long ${n}`, () => `struct<${'x'.repeat(n)}: bool>`)
  t.throws(() => parseType(long(1024 * 1024)), { message: `type is ${long(1024 * 1024).length} characters long, at most 1048576 (MAX_TYPE_LENGTH) at position 0 in "${long(1024 * 1024).slice(0, 200)}…"` })
  // Refused on its length alone: four times as long costs no more (a scan of it would cost 4 times as much).
  const tooLong = await growth((n) => refuses(long(n))(), 1024 * 1024)
  t.ok(tooLong.ratio < 2, `a type over MAX_TYPE_LENGTH is refused before it is read: ${tooLong.text}`)

  const dupes = (n: number) => memo(`dupes ${n}`, () => `struct<${Array.from({ length: n }, (_, i) => `c${i}: bool`).join(', ')}, c0: int8>`)
  t.throws(() => parseType(dupes(9_000)), { message: /^duplicate struct field "c0" at position 0/ })
  const dupeCheck = await growth((n) => refuses(dupes(n))(), 2_499)
  t.ok(dupeCheck.ratio < LINEAR, `duplicate check linear: ${dupeCheck.text}`)
})
