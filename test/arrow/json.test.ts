import t from 'tap'
import { readJsonArray, readNdjson, rowsToBatches } from '../../src/arrow/json.ts'
import { toArrowSchema } from '../../src/schema/types.ts'
import { chunked, makeNdjson, makeRows, streamOf, TEST_ARROW_SCHEMA, TEST_BASE_TS_US } from '../helpers/arrow.ts'

const JSONERR = (message: string) => ({ code: 'QUIVER_INVALID_JSON', statusCode: 400, message: `Invalid JSON data: ${message}` })
const schemaOf = (spec: Array<[string, string, boolean?]>) =>
  toArrowSchema({ fields: spec.map(([name, type, nullable]) => ({ name, type, nullable: nullable ?? true })) })

t.test('NDJSON in odd chunks becomes batches with the topic schema and exact values', async (t) => {
  const text = Buffer.from(makeNdjson(2500))
  const r = await readNdjson(streamOf(chunked(text, 333)), { maxBytes: 1e7, schema: TEST_ARROW_SCHEMA, batchRows: 1000 })
  t.same([r.rows, r.batches.length, r.bytes], [2500, 3, text.byteLength])
  t.equal(r.batches[0].schema, TEST_ARROW_SCHEMA)
  t.same(r.batches.map(b => b.numRows), [1000, 1000, 500])
  t.same(r.batches[2].get(499)?.toJSON(), { id: 2499n, name: 'name-2499', price: 3748.5, ts: 1714564800000 + 2_499_000, ok: false })
  t.equal(r.batches[0].getChild('ts')?.data[0].values[1], TEST_BASE_TS_US + 1_000_000n, 'timestamps kept in microseconds')
})

t.test('NDJSON: blank lines, CRLF, no trailing newline, empty body', async (t) => {
  const body = '{"id":1,"ts":0}\r\n\n   \n{"id":2,"ts":1000}'
  const r = await readNdjson(streamOf([Buffer.from(body)]), { maxBytes: 1000, schema: TEST_ARROW_SCHEMA })
  t.same(r.batches[0].toArray().map(x => x.toJSON()), [
    { id: 1n, name: null, price: null, ts: 0, ok: null },
    { id: 2n, name: null, price: null, ts: 1000, ok: null }
  ])
  t.same(await readNdjson(streamOf([]), { maxBytes: 10, schema: TEST_ARROW_SCHEMA }), { batches: [], rows: 0, bytes: 0 })
})

t.test('NDJSON errors name the line (counting blank lines)', async (t) => {
  const ok = '{"id":1,"ts":0}\n'
  const cases: Array<[string, string]> = [
    [ok + '\n{"id":2,"ts":0,"price":"abc"}\n', 'line 3: field "price": expected double, got "abc"'],
    [ok + '{"id": 2, "ts": 0\n', 'line 2: not valid JSON'],
    [ok + '[1,2]\n', 'line 2: expected a JSON object, got array'],
    [ok + '42\n', 'line 2: expected a JSON object, got 42'],
    [ok + '{"ts":0}\n', 'line 2: missing non-nullable field "id"'],
    [ok + '{"id":null,"ts":0}\n', 'line 2: field "id": null in a non-nullable field'],
    [ok + '{"id":3,"ts":0,"color":"red"}\n', 'line 2: unknown field "color"'],
    [ok + '{"id":3.5,"ts":0}\n', 'line 2: field "id": expected int64, got 3.5'],
    [ok + '{"id":9223372036854775808,"ts":0}\n', 'line 2: field "id": expected int64, got 9223372036854775808'], // long literals read exactly: named as sent
    [ok + '{"id":"9223372036854775808","ts":0}\n', 'line 2: field "id": expected int64, got "9223372036854775808"'],
    [ok + '{"id":1,"ts":"yesterday"}\n', 'line 2: field "ts": expected timestamp[us, tz=UTC], got "yesterday"'],
    [ok + '{"id":1,"ts":"2024-02-30T00:00:00Z"}\n', 'line 2: field "ts": expected timestamp[us, tz=UTC], got "2024-02-30T00:00:00Z"'],
    [ok + '{"id":1,"ts":0,"ok":"yes"}\n', 'line 2: field "ok": expected bool, got "yes"'],
    [ok + '{"id":1,"ts":0,"name":5}\n', 'line 2: field "name": expected string, got 5']
  ]
  for (const [body, message] of cases) {
    await t.rejects(readNdjson(streamOf([Buffer.from(body)]), { maxBytes: 1e6, schema: TEST_ARROW_SCHEMA }), JSONERR(message), message)
  }
  await t.rejects(readNdjson(streamOf([Buffer.from(ok), Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d, 10)]), { maxBytes: 1e6, schema: TEST_ARROW_SCHEMA }),
    JSONERR('line 2: not valid UTF-8'))
})

t.test('NDJSON over maxBytes is 413 and stops reading', async (t) => {
  let pulled = 0
  const chunks = chunked(Buffer.from(makeNdjson(1000)), 1000)
  async function * body () { for (const c of chunks) { pulled += c.byteLength; yield c } }
  await t.rejects(readNdjson(body(), { maxBytes: 5000, schema: TEST_ARROW_SCHEMA }),
    { code: 'QUIVER_PAYLOAD_TOO_LARGE', statusCode: 413, message: 'Request body exceeds 5000 bytes' })
  t.equal(pulled, 6000)
})

t.test('JSON arrays', async (t) => {
  const body = Buffer.from(JSON.stringify(makeRows(30)))
  const r = await readJsonArray(streamOf(chunked(body, 100)), { maxBytes: 1e6, schema: TEST_ARROW_SCHEMA, batchRows: 20 })
  t.same([r.rows, r.batches.length, r.bytes], [30, 2, body.byteLength])
  t.same(r.batches[1].get(9)?.toJSON(), { id: 29n, name: 'name-29', price: 43.5, ts: 1714564829000, ok: false })
  t.equal((await readJsonArray(body, { maxBytes: 1e6, schema: TEST_ARROW_SCHEMA })).rows, 30, 'a Buffer body works too')
  const cases: Array<[string, string]> = [
    ['{"id":1}', 'expected a JSON array of objects, got object'],
    ['[{"id":1,"ts":0}, 5]', 'row 1: expected a JSON object, got 5'],
    ['[{"id":1,"ts":0}, {"id":2,"ts":0,"price":"abc"}]', 'row 1: field "price": expected double, got "abc"'],
    ['[{"id":1', 'body is not valid JSON'],
    ['', 'body is not valid JSON']
  ]
  for (const [text, message] of cases) {
    await t.rejects(readJsonArray(streamOf([Buffer.from(text)]), { maxBytes: 1e6, schema: TEST_ARROW_SCHEMA }), JSONERR(message), message)
  }
  await t.rejects(readJsonArray(streamOf(chunked(body, 100)), { maxBytes: 1000, schema: TEST_ARROW_SCHEMA }), { code: 'QUIVER_PAYLOAD_TOO_LARGE' })
  t.same(await readJsonArray(streamOf([Buffer.from('[]')]), { maxBytes: 10, schema: TEST_ARROW_SCHEMA }), { batches: [], rows: 0, bytes: 2 })
})

t.test('conversions: every scalar type', async (t) => {
  const schema = schemaOf([
    ['i8', 'int8'], ['u16', 'uint16'], ['i64', 'int64'], ['u64', 'uint64'], ['f', 'float'], ['d', 'double'],
    ['s', 'large_string'], ['b', 'binary'], ['day', 'date32[day]'], ['ts_s', 'timestamp[s]'], ['ts_ms', 'timestamp[ms, tz=UTC]'],
    ['ts_ns', 'timestamp[ns, tz=UTC]'], ['h', 'halffloat']
  ])
  const [b] = rowsToBatches([{
    i8: -128,
    u16: 65535,
    i64: '-9223372036854775808',
    u64: '18446744073709551615',
    f: 1.5,
    d: 'NaN',
    s: 'héllo',
    b: 'AQID',
    day: '2024-02-29',
    ts_s: '2024-05-01T12:00:00.999+02:00',
    ts_ms: 1714564800123.9,
    ts_ns: '2024-05-01T12:00:00.123456789Z',
    h: 0.5
  }, {}], schema)
  const col = (name: string) => b.getChild(name)!.data[0].values
  t.equal(col('i8')[0], -128)
  t.equal(col('u16')[0], 65535)
  t.equal(col('i64')[0], -(2n ** 63n))
  t.equal(col('u64')[0], 2n ** 64n - 1n)
  t.equal(col('f')[0], 1.5)
  t.ok(Number.isNaN(col('d')[0]))
  t.equal(b.getChild('s')!.get(0), 'héllo')
  t.same([...b.getChild('b')!.get(0)], [1, 2, 3])
  t.equal(col('day')[0], 19782)
  t.equal(col('ts_s')[0], 1714557600n, 'offset applied, fraction dropped')
  t.equal(col('ts_ms')[0], 1714564800123n)
  t.equal(col('ts_ns')[0], 1714564800123456789n)
  t.equal(b.getChild('h')!.get(0), 0.5)
  t.same(b.get(1)?.toJSON(), { i8: null, u16: null, i64: null, u64: null, f: null, d: null, s: null, b: null, day: null, ts_s: null, ts_ms: null, ts_ns: null, h: null })
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ i8: 128 }, 'row 0: field "i8": expected int8, got 128'],
    [{ u16: -1 }, 'row 0: field "u16": expected uint16, got -1'],
    [{ u64: '-1' }, 'row 0: field "u64": expected uint64, got "-1"'],
    [{ b: 'not base64!' }, 'row 0: field "b": expected binary, got "not base64!"'],
    [{ day: '2024-13-01' }, 'row 0: field "day": expected date32[day], got "2024-13-01"'],
    [{ day: '2024-01-01T00:00:00Z' }, 'row 0: field "day": expected date32[day], got "2024-01-01T00:00:00Z"'],
    [{ ts_s: true }, 'row 0: field "ts_s": expected timestamp[s], got true']
  ]
  for (const [row, message] of bad) t.throws(() => rowsToBatches([row], schema), JSONERR(message), message)
})

t.test('lists and structs, with paths in messages', async (t) => {
  const schema = schemaOf([['id', 'int32', false], ['tags', 'list<item: string>'], ['addr', 'struct<city: string not null, zip: int32>'], ['m', 'list<item: struct<k: string, v: list<item: int64 not null>>>']])
  const [b] = rowsToBatches([
    { id: 1, tags: ['a', null, 'b'], addr: { city: 'Paris', zip: 75001 }, m: [{ k: 'x', v: [1, '2'] }] },
    { id: 2, tags: [], addr: null, m: null },
    { id: 3 }
  ], schema)
  t.same(b.toArray().map(r => JSON.parse(JSON.stringify(r.toJSON(), (_, v) => typeof v === 'bigint' ? Number(v) : v))), [
    { id: 1, tags: ['a', null, 'b'], addr: { city: 'Paris', zip: 75001 }, m: [{ k: 'x', v: [1, 2] }] },
    { id: 2, tags: [], addr: null, m: null },
    { id: 3, tags: null, addr: null, m: null }
  ])
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ id: 1, tags: 'a' }, 'row 0: field "tags": expected list<item: string>, got "a"'],
    [{ id: 1, tags: ['a', 2] }, 'row 0: field "tags[1]": expected string, got 2'],
    [{ id: 1, addr: { zip: 1 } }, 'row 0: missing non-nullable field "addr.city"'],
    [{ id: 1, addr: { city: 'x', country: 'FR' } }, 'row 0: unknown field "addr.country"'],
    [{ id: 1, addr: [] }, 'row 0: field "addr": expected struct<city: string not null, zip: int32>, got array'],
    [{ id: 1, m: [{ k: 'x', v: [1] }, { k: 'y', v: [2, null] }] }, 'row 0: field "m[1].v[1]": null in a non-nullable field']
  ]
  for (const [row, message] of bad) t.throws(() => rowsToBatches([{ id: 0 }, row], schema, { label: i => `line ${i + 1}` }), JSONERR(message.replace('row 0', 'line 2')), message)
})

t.test('timestamps: ISO forms and epoch milliseconds in every unit', async (t) => {
  const schema = schemaOf([['s', 'timestamp[s]'], ['ms', 'timestamp[ms]'], ['us', 'timestamp[us]'], ['ns', 'timestamp[ns]']])
  const cases: Array<[unknown, [bigint, bigint, bigint, bigint]]> = [
    ['1970-01-01T00:00:01.5Z', [1n, 1500n, 1_500_000n, 1_500_000_000n]],
    ['1970-01-01 00:00:01', [1n, 1000n, 1_000_000n, 1_000_000_000n]],
    ['1970-01-01T01:00:00+0100', [0n, 0n, 0n, 0n]],
    ['1970-01-01T00:00:00-00:30', [1800n, 1_800_000n, 1_800_000_000n, 1_800_000_000_000n]],
    ['1970-01-02', [86400n, 86_400_000n, 86_400_000_000n, 86_400_000_000_000n]],
    [1500.25, [1n, 1500n, 1_500_250n, 1_500_250_000n]],
    [-1, [-1n, -1n, -1000n, -1_000_000n]]
  ]
  for (const [v, expected] of cases) {
    const [b] = rowsToBatches([{ s: v, ms: v, us: v, ns: v }], schema)
    t.same(['s', 'ms', 'us', 'ns'].map(k => b.getChild(k)!.data[0].values[0]), expected, String(v))
  }
  const [old] = rowsToBatches([{ us: '0001-01-01T00:00:00Z' }], schema)
  t.equal(old.getChild('us')!.data[0].values[0], -62135596800000000n)
  t.throws(() => rowsToBatches([{ ns: '0001-01-01T00:00:00Z' }], schema),
    JSONERR('row 0: field "ns": expected timestamp[ns], got "0001-01-01T00:00:00Z"'), 'outside the int64 range of nanoseconds')
})

t.test('rowsToBatches of no rows is no batches; non-object rows are named', async (t) => {
  t.same(rowsToBatches([], TEST_ARROW_SCHEMA), [])
  t.throws(() => rowsToBatches([null], TEST_ARROW_SCHEMA), JSONERR('row 0: expected a JSON object, got null'))
})
