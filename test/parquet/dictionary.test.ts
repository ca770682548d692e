import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Binary, Field, Float64, Int64, List, Schema, Struct, Utf8 } from 'apache-arrow'
import { DuckDBInstance } from '@duckdb/node-api'
import { dictionaryColumnsOf } from '../../src/parquet/dictionary.ts'
import { listeningApp, parquetTable } from '../e2e/ingest-helpers.ts'
import { makeNdjson } from '../helpers/arrow.ts'

function walk (dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? walk(p) : [p]
  })
}

t.test('dictionaryColumnsOf names the top-level string and binary columns only', async (t) => {
  const schema = new Schema([
    new Field('id', new Int64()),
    new Field('name', new Utf8()),
    new Field('blob', new Binary()),
    new Field('price', new Float64()),
    new Field('tags', new List(new Field('item', new Utf8()))),
    new Field('s', new Struct([new Field('inner', new Utf8())]))
  ])
  t.same(dictionaryColumnsOf(schema), ['name', 'blob'])
})

t.test('a flushed object dictionary-encodes its string column and writes the others plain', async (t) => {
  const { base, writer, dataDir } = await listeningApp(t)
  const res = await fetch(`${base}/v1/topics/events/records`, {
    method: 'POST',
    headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/x-ndjson' },
    body: makeNdjson(3000)
  })
  t.equal(res.status, 200, await res.clone().text())
  const files = walk(join(dataDir, 'events')).filter((f) => f.endsWith('.parquet'))
  t.equal(files.length, 1)
  t.equal(parquetTable(readFileSync(files[0])).numRows, 3000)

  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  const rows = (await conn.runAndReadAll(`SELECT path_in_schema AS col, encodings FROM parquet_metadata('${files[0]}') ORDER BY column_id`)).getRowObjectsJS()
  const enc = Object.fromEntries(rows.map((r) => [String(r.col), String(r.encodings)]))
  t.same(Object.keys(enc), ['id', 'name', 'price', 'ts', 'ok', '__ingested_at'])
  t.match(enc.name, /DICTIONARY/, `name: ${enc.name}`)
  for (const col of ['id', 'price', 'ts', 'ok', '__ingested_at']) t.notMatch(enc[col], /DICTIONARY/, `${col}: ${enc[col]}`)
})
