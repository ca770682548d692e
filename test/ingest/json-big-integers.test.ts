import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { parseJson } from '../../src/arrow/json-values.ts'

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
