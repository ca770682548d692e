import { test } from 'tap'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { parquetFiles } from '../reliability/lib/parquet.ts'

/*
 * A JSON number too large for a `float` (float32) or `halffloat` column was stored as ±Infinity
 * with 200, a value never sent, while an out-of-range integer is refused. It is now refused the
 * same way (400 QUIVER_INVALID_JSON naming row, field and value); finite values that merely round
 * are kept, and "Infinity"/"NaN" strings stay the way to send those values.
 */

const invalidJson = (message: string) => ({ statusCode: 400, code: 'QUIVER_INVALID_JSON', error: 'Bad Request', message: `Invalid JSON data: ${message}` })

test('float and halffloat: out-of-range numbers are 400 like integers; rounding values and spelled infinities land', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  const call = async (method: 'GET' | 'POST', url: string, payload: object | string | undefined, headers: Record<string, string> = {}) => {
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${admin}`, ...headers }, ...(payload === undefined ? {} : { payload }) })
    return { status: res.statusCode, body: res.json() }
  }
  const fields = [{ name: 'f', type: 'float', nullable: true }, { name: 'h', type: 'halffloat', nullable: true }, { name: 'u', type: 'uint8', nullable: true }]
  t.equal((await call('POST', '/v1/topics', { name: 'nums', schema: { fields } })).status, 201)
  const ndjson = (rows: object[]) => call('POST', '/v1/topics/nums/records', rows.map((r) => JSON.stringify(r)).join('\n'), { 'content-type': 'application/x-ndjson' })
  const json = (rows: object[]) => call('POST', '/v1/topics/nums/records', JSON.stringify(rows), { 'content-type': 'application/json' })

  t.same(await ndjson([{ u: 256 }]), { status: 400, body: invalidJson('line 1: field "u": expected uint8, got 256') }, 'the integer rule, for comparison')
  for (const [row, message] of [
    [{ f: 1e39 }, 'line 1: field "f": expected float, got 1e+39'],
    [{ f: -1e39 }, 'line 1: field "f": expected float, got -1e+39'],
    [{ f: 3.5e38 }, 'line 1: field "f": expected float, got 3.5e+38'],
    [{ h: 70000 }, 'line 1: field "h": expected halffloat, got 70000'],
    [{ h: -65520 }, 'line 1: field "h": expected halffloat, got -65520']
  ] as const) t.same(await ndjson([row]), { status: 400, body: invalidJson(message) }, JSON.stringify(row))
  t.same(await json([{ f: 1 }, { f: 1e39 }]), { status: 400, body: invalidJson('row 1: field "f": expected float, got 1e+39') })
  t.same(parquetFiles(dataDir), [], 'nothing stored by the refused requests')

  const ok = await ndjson([
    { f: 3.4028234663852886e38, h: 65504 },
    { f: 3.4028235e38, h: 65519 },
    { f: 0.1, h: 0.1 },
    { f: 1e-50, h: 0.5 },
    { f: 'Infinity', h: '-Infinity' },
    { f: 'NaN', h: 'NaN' }
  ])
  t.same([ok.status, ok.body.rows], [200, 6])
  const db = await DuckDBInstance.create(':memory:')
  const con = await db.connect()
  t.teardown(() => { con.closeSync(); db.closeSync() })
  const files = parquetFiles(join(dataDir, 'nums')).map((f) => `'${f}'`).join(', ')
  const read = await con.runAndReadAll(`SELECT f::DOUBLE::VARCHAR AS f, h::DOUBLE::VARCHAR AS h FROM read_parquet([${files}]) ORDER BY __ingested_at`)
  t.same(read.getRowObjectsJson(), [
    { f: '3.4028234663852886e+38', h: '65504.0' },
    { f: '3.4028234663852886e+38', h: '65504.0' },
    { f: '0.10000000149011612', h: '0.0999755859375' },
    { f: '0.0', h: '0.5' },
    { f: 'inf', h: '-inf' },
    { f: 'nan', h: 'nan' }
  ])
})
