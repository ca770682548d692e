import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { JsonNumber, parseJson } from '../../src/arrow/json-values.ts'

/*
 * 64-bit integers written as bare JSON numbers, as Python's json, Go's encoding/json, Jackson and
 * DuckDB write them: beyond 2^53 they were rounded by JSON.parse and refused, the error quoting a
 * value never sent. Integer literals of 16+ digits are now read exactly (src/arrow/json-values.ts
 * parseJson).
 */
t.test('parseJson: long integer literals exact, everything else as JSON.parse reads it', async (t) => {
  t.same(parseJson('{"i":9007199254740993,"u":18446744073709551615,"n":-9223372036854775808}'), { i: 9007199254740993n, u: 18446744073709551615n, n: -9223372036854775808n })
  t.same(parseJson('[1234567890123456,123456789012345]'), [1234567890123456n, 123456789012345], '16 digits marked, 15 left a number')
  const doubles = '{"f":12345678901234567.5,"e":12345678901234567e2,"E":-12345678901234567E-2}'
  t.same(parseJson(doubles), JSON.parse(doubles), 'fractions and exponents stay doubles')
  t.same(parseJson('{"s":"12345678901234567","q":"a\\"12345678901234567\\"b","k":{"12345678901234567":1}}'), { s: '12345678901234567', q: 'a"12345678901234567"b', k: { '12345678901234567': 1 } }, 'digits inside strings and keys untouched')
  t.throws(() => parseJson('{"i":0012345678901234567}'), SyntaxError, 'a leading zero is still not JSON')
  t.throws(() => parseJson('{"i":12345678901234567'), SyntaxError)
  t.same(parseJson('{"a":[{"b":99999999999999999999999}]}'), { a: [{ b: 99999999999999999999999n }] }, 'nested, and past 64 bits (a converter refuses it, naming it exactly)')
})

t.test('NDJSON and JSON arrays: int64 and uint64 at their edges land exactly; a double and a decimal take long integers too', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  const writer = localToken(dataDir, ['write'])
  const fields = [{ name: 'k', type: 'string', nullable: false }, { name: 'i', type: 'int64', nullable: true }, { name: 'u', type: 'uint64', nullable: true }, { name: 'd', type: 'double', nullable: true }, { name: 'm', type: 'decimal128(38, 0)', nullable: true }]
  t.equal((await app.inject({ method: 'POST', url: '/v1/topics', headers: { authorization: `Bearer ${admin}` }, payload: { name: 'big', schema: { fields } } })).statusCode, 201)
  const lines = [
    '{"k":"a","i":9007199254740993,"u":18446744073709551615,"d":12345678901234567,"m":12345678901234567890123456789012345678}',
    '{"k":"b","i":-9223372036854775808,"u":18446744073709551614}',
    '{"k":"c","i":9223372036854775807,"u":9007199254740993}'
  ]
  const post = (body: string, type: string) => app.inject({ method: 'POST', url: '/v1/topics/big/records', headers: { authorization: `Bearer ${writer}`, 'content-type': type }, payload: body })
  t.equal((await post(lines.join('\n') + '\n', 'application/x-ndjson')).statusCode, 200)
  t.equal((await post('[' + lines.map((l) => l.replace('"k":"', '"k":"json-')).join(',') + ']', 'application/json')).statusCode, 200)
  const over = await post('{"k":"x","i":9223372036854775808}\n', 'application/x-ndjson')
  t.same([over.statusCode, over.json().message], [400, 'Invalid JSON data: line 1: field "i": expected int64, got 9223372036854775808'], 'one past int64: refused, the value quoted as sent')

  const files = readdirSync(join(dataDir, 'big'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet')).map((f) => join(dataDir, 'big', f))
  t.ok(files.length > 0 && readFileSync(files[0]).byteLength > 0)
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  const got = (await conn.runAndReadAll(`SELECT k, i::VARCHAR AS i, u::VARCHAR AS u, d, m::VARCHAR AS m FROM read_parquet([${files.map((f) => `'${f}'`).join(',')}]) ORDER BY k`)).getRowObjectsJS()
  const want = (k: string) => [
    { k: `${k}a`, i: '9007199254740993', u: '18446744073709551615', d: 12345678901234568, m: '12345678901234567890123456789012345678' },
    { k: `${k}b`, i: '-9223372036854775808', u: '18446744073709551614', d: null, m: null },
    { k: `${k}c`, i: '9223372036854775807', u: '9007199254740993', d: null, m: null }
  ]
  t.same(got, [...want(''), ...want('json-')])
})

t.test('parseJson with fractions: numbers of 16+ digits with a point or an exponent kept as written, others as JSON.parse reads them', async (t) => {
  const text = '{"a":0.12345678901234567890,"b":-1234567.123456789012e-3,"c":0.1,"d":123456789012.345,"s":"0.12345678901234567890","n":[1.00000000000000000001]}'
  const v = parseJson(text, true) as Record<string, unknown>
  t.same([v.a, v.b, v.n], [new JsonNumber('0.12345678901234567890'), new JsonNumber('-1234567.123456789012e-3'), [new JsonNumber('1.00000000000000000001')]])
  t.equal((v.a as JsonNumber).value, 0.12345678901234568, 'the double JSON.parse gives, for every other type')
  t.same([v.c, v.d, v.s], [0.1, 123456789012.345, '0.12345678901234567890'], '15 digits and fewer stay numbers; strings untouched')
  t.same(parseJson(text), JSON.parse(text), 'without fractions: what JSON.parse reads')
  t.equal(parseJson('0.12345678901234567890', true), 0.12345678901234568, 'a text that is one number: a number (not a row)')
  const only = parseJson('{"a":0.12345678901234567890,"b":0.8444218515250481,"\\u0061b":1.2345678901234567e3,"n":{"a":0.12345678901234567890},"l":[0.12345678901234567890]}', new Set(['a', 'ab'])) as Record<string, unknown>
  t.same(only, { a: new JsonNumber('0.12345678901234567890'), b: 0.8444218515250481, ab: new JsonNumber('1.2345678901234567e3'), n: { a: 0.12345678901234568 }, l: [0.12345678901234568] }, 'by name: only those members of the top-level object (names with escapes read as JSON reads them)')
  for (const bad of ['{"a":00.12345678901234567890}', '{"a":1.e12345678901234567}', '{"a":.12345678901234567890}', '{"a":0.12345678901234567890e}', '{"a":-.12345678901234567890}']) {
    t.throws(() => parseJson(bad, true), SyntaxError, `${bad} is still not JSON`)
  }
})

t.test('NDJSON and JSON arrays: a decimal sent as a long fractional number is stored as written, not rounded through a double', async (t) => {
  // Before: JSON.parse rounded 0.12345678901234567890 to 0.12345678901234568 before the decimal
  // converter saw it, and 0.12345678901234568000 was stored although the README says never rounded.
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  const writer = localToken(dataDir, ['write'])
  const fields = [
    { name: 'k', type: 'string', nullable: false },
    { name: 'm', type: 'decimal128(38, 20)', nullable: true },
    { name: 'w', type: 'decimal256(60, 30)', nullable: true },
    { name: 'd', type: 'double', nullable: true },
    { name: 'n', type: 'int32', nullable: true },
    { name: 'st', type: 'struct<x: decimal128(38, 20)>', nullable: true }
  ]
  t.equal((await app.inject({ method: 'POST', url: '/v1/topics', headers: { authorization: `Bearer ${admin}` }, payload: { name: 'dec', schema: { fields } } })).statusCode, 201)
  const lines = [
    '{"k":"a","m":0.12345678901234567890,"w":123456789012345678901234567890.123456789012345678901234567891,"d":0.12345678901234567890,"n":7.0000000000000000000,"st":{"x":-98765432109876543.21098765432109876543}}',
    '{"k":"b","m":1234.5678901234567890e-3,"w":-1e29,"d":1.5,"n":1,"st":null}'
  ]
  const post = (body: string, type: string) => app.inject({ method: 'POST', url: '/v1/topics/dec/records', headers: { authorization: `Bearer ${writer}`, 'content-type': type }, payload: body })
  const ndjson = await post(lines.join('\n') + '\n', 'application/x-ndjson')
  t.equal(ndjson.statusCode, 200, ndjson.body)
  const array = await post('[' + lines.map((l) => l.replace('"k":"', '"k":"json-')).join(',') + ']', 'application/json')
  t.equal(array.statusCode, 200, array.body)
  const over = await post('{"k":"x","m":0.123456789012345678901}\n', 'application/x-ndjson')
  t.same([over.statusCode, over.json()], [422, {
    statusCode: 422,
    code: 'QUIVER_DECIMAL_PRECISION',
    error: 'Unprocessable Entity',
    message: 'Decimal value out of range: line 1: field "m": value 0.123456789012345678901 has more than 38 digits or 20 decimal places (declared decimal128(38, 20))'
  }], 'a 21st fractional digit: refused, the value quoted as sent')
  const notRow = await post('0.12345678901234567890\n', 'application/x-ndjson')
  t.same([notRow.statusCode, notRow.json().message], [400, 'Invalid JSON data: line 1: expected a JSON object, got 0.12345678901234568'])

  const files = readdirSync(join(dataDir, 'dec'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet')).map((f) => join(dataDir, 'dec', f))
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  const got = (await conn.runAndReadAll(`SELECT k, m::VARCHAR AS m, d, n, st.x::VARCHAR AS x FROM read_parquet([${files.map((f) => `'${f}'`).join(',')}]) ORDER BY k`)).getRowObjectsJS()
  const want = (k: string) => [
    { k: `${k}a`, m: '0.12345678901234567890', d: 0.12345678901234568, n: 7, x: '-98765432109876543.21098765432109876543' },
    { k: `${k}b`, m: '1.23456789012345678900', d: 1.5, n: 1, x: null }
  ]
  t.same(got, [...want(''), ...want('json-')])
  // DuckDB cannot read a decimal256 of more than 38 digits (README): the gateway's own read does
  const back = await app.inject({ method: 'GET', url: '/v1/topics/dec/records', headers: { authorization: `Bearer ${admin}`, accept: 'application/x-ndjson' } })
  const ws = back.body.trim().split('\n').map((l) => JSON.parse(l) as { k: string, w: string }).sort((a, b) => a.k < b.k ? -1 : 1).map((r) => [r.k, r.w])
  t.same(ws, ['a', 'b', 'json-a', 'json-b'].map((k) => [k, k.endsWith('a') ? '123456789012345678901234567890.123456789012345678901234567891' : '-100000000000000000000000000000.000000000000000000000000000000']))
})
