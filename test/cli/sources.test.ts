import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Field, Int32, Schema, Table, tableToIPC, Utf8, type RecordBatch } from 'apache-arrow'
import { Table as WasmTable, writeParquet, WriterPropertiesBuilder } from 'parquet-wasm'
import t from 'tap'
import { READERS, detectFormat, type Format } from '../../src/cli/sources/index.ts'
import { jsonValue } from '../../src/cli/tail.ts'
import { writeRows } from './helpers/files.ts'

const dir = mkdtempSync(join(tmpdir(), 'quiver-cli-src-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

async function read (format: Format, text: string | Uint8Array, batchRows = 1000, schema?: Schema) {
  const path = join(dir, `in-${Math.random().toString(36).slice(2)}.${format}`)
  writeFileSync(path, text)
  const batches: RecordBatch[] = []
  for await (const b of READERS[format](path, { batchRows, schema })) batches.push(b)
  return batches
}

function rows (batches: RecordBatch[]) {
  return batches.flatMap(b => b.toArray().map(r => Object.fromEntries(b.schema.fields.map(f => [f.name, jsonValue(f, (r as Record<string, unknown>)[f.name])]))))
}

function types (batch: RecordBatch) {
  return batch.schema.fields.map(f => `${f.name}:${f.type}${f.nullable ? '?' : ''}`)
}

t.test('CSV: RFC 4180 quoting, CRLF, BOM, empty values and inferred types', async t => {
  const csv = '\ufeffid,name,value,ts,ok\r\n' +
    '1,"a, ""quoted"" name",1.5,2024-01-01T00:00:00Z,true\r\n' +
    '2,"two\r\nlines",,2024-01-02 10:00:00,false\r\n' +
    '\r\n' +
    '3,plain,-3e2,,\r\n'
  const batches = await read('csv', csv)
  t.equal(batches.length, 1)
  t.same(types(batches[0]), ['id:Int64?', 'name:Utf8?', 'value:Float64?', 'ts:Timestamp<MICROSECOND, UTC>?', 'ok:Bool?'])
  t.same(rows(batches), [
    { id: 1, name: 'a, "quoted" name', value: 1.5, ts: '2024-01-01T00:00:00.000Z', ok: true },
    { id: 2, name: 'two\nlines', value: null, ts: '2024-01-02T10:00:00.000Z', ok: false },
    { id: 3, name: 'plain', value: -300, ts: null, ok: null }
  ])
})

t.test('CSV: the topic schema decides types; columns match by name; absent columns are null', async t => {
  const schema = new Schema([new Field('n', new Int32(), false), new Field('label', new Utf8(), true), new Field('extra', new Utf8(), true)])
  const batches = await read('csv', 'label,n\nx,1\n"",2\n', 10, schema)
  t.same(types(batches[0]), ['n:Int32', 'label:Utf8?', 'extra:Utf8?'])
  t.same(rows(batches), [{ n: 1, label: 'x', extra: null }, { n: 2, label: '', extra: null }])
  await t.rejects(read('csv', 'label,n\nx,\n', 10, schema), /"n" is not nullable/)
  await t.rejects(read('csv', 'label,n\nx,1.5\n', 10, schema), /"n" expects Int32, got "1.5"/)
  await t.rejects(read('csv', 'label,n,zzz\nx,1,2\n', 10, schema), /columns not in the topic's schema: zzz/)
})

t.test('CSV: bad records are errors naming the line', async t => {
  await t.rejects(read('csv', 'a,b\n1,2\n3\n'), /:3: expected 2 fields, found 1/)
  await t.rejects(read('csv', 'a,b\n1,"open\n'), /unterminated quoted field/)
  await t.rejects(read('csv', 'a,a\n1,2\n'), /duplicate column names/)
})

t.test('batches hold exactly batchRows rows, the last one the rest', async t => {
  const csv = 'id\n' + Array.from({ length: 10 }, (_, i) => i).join('\n') + '\n'
  const batches = await read('csv', csv, 3)
  t.same(batches.map(b => b.numRows), [3, 3, 3, 1])
  t.same(rows(batches).map(r => r.id), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  const nd = await read('ndjson', Array.from({ length: 5 }, (_, i) => JSON.stringify({ i })).join('\n'), 2)
  t.same(nd.map(b => b.numRows), [2, 2, 1])
})

t.test('NDJSON: inferred types, nested values as JSON text, unknown later keys rejected', async t => {
  const nd = '{"id":1,"f":0.5,"s":"x","b":true,"o":{"k":[1,2]}}\n\n{"id":2,"f":2,"s":null,"b":false,"o":null}\n'
  const batches = await read('ndjson', nd)
  t.same(types(batches[0]), ['id:Int64?', 'f:Float64?', 's:Utf8?', 'b:Bool?', 'o:Utf8?'])
  t.same(rows(batches), [
    { id: 1, f: 0.5, s: 'x', b: true, o: '{"k":[1,2]}' },
    { id: 2, f: 2, s: null, b: false, o: null }
  ])
  await t.rejects(read('ndjson', '{"a":1}\n{"a":2,"z":3}\n', 1), /field "z" is not in the schema/)
  await t.rejects(read('ndjson', '{"a":1}\n{"a":\n'), /:2: invalid JSON/)
})

t.test('JSON array: elements split correctly across read chunks, strings with brackets and escapes', async t => {
  const small = await read('json', '[ {"s":"a]\\"}{,"}, {"s":"[x"} ]')
  t.same(rows(small), [{ s: 'a]"}{,' }, { s: '[x' }])
  const path = join(dir, 'big.json')
  await writeRows(path, 60_000, 'json')
  t.ok(statSync(path).size > 4 << 20, 'spans several 1 MiB read chunks')
  let n = 0
  let last: Record<string, unknown> | undefined
  for await (const b of READERS.json(path, { batchRows: 25_000 })) { n += b.numRows; last = rows([b]).at(-1) }
  t.equal(n, 60_000)
  t.same(last, { id: 59_999, name: 'name-59999', value: 59_999 / 4, ts: new Date(Date.UTC(2024, 0, 1) + 59_999_000).toISOString(), ok: false })
  await t.rejects(read('json', '{"a":1}'), /expected a JSON array/)
  await t.rejects(read('json', '[{"a":1},'), /truncated JSON array/)
  await t.rejects(read('json', '[1,2]'), /element 1 is not an object/)
})

t.test('Arrow IPC file and stream, Parquet: batches re-cut to batchRows, values intact', async t => {
  const source = await read('csv', 'id,name\n' + Array.from({ length: 2500 }, (_, i) => `${i},n${i}`).join('\n'), 1000)
  const table = new Table(source)
  for (const kind of ['file', 'stream'] as const) {
    const batches = await read('arrow', tableToIPC(table, kind), 700)
    t.same(batches.map(b => b.numRows), [700, 300, 700, 300, 500], kind)
    t.same(rows(batches), rows(source), kind)
  }
  const props = new WriterPropertiesBuilder().setMaxRowGroupSize(1000).build()
  const parquet = writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), props)
  const batches = await read('parquet', parquet, 1000)
  t.same(batches.map(b => b.numRows), [1000, 1000, 500])
  t.same(rows(batches), rows(source))
})

t.test('formats are detected from the extension', async t => {
  t.same(['a.csv', 'b.NDJSON', 'c.jsonl', 'd.json', 'e.parquet', 'f.arrow', 'g.arrows'].map(detectFormat),
    ['csv', 'ndjson', 'ndjson', 'json', 'parquet', 'arrow', 'arrow'])
  t.throws(() => detectFormat('x.txt'), /pass --format/)
})

t.test('memory stays flat: CSV and JSON are read under a heap limit far below their parsed size', async t => {
  const exec = promisify(execFile)
  for (const [format, n] of [['csv', 450_000], ['json', 220_000]] as const) {
    const path = join(dir, `mem.${format}`)
    await writeRows(path, n, format)
    const size = statSync(path).size
    // 48 MB of old space: holding the parsed file (millions of strings) would crash the child.
    const { stdout } = await exec(process.execPath, ['--max-old-space-size=48', '--import', 'tsx', join(import.meta.dirname, 'helpers/read-source.ts'), path, format, '20000'])
    const out = JSON.parse(stdout) as { rows: number, batches: number, hwm: number }
    t.same({ rows: out.rows, batches: out.batches }, { rows: n, batches: Math.ceil(n / 20_000) }, `${format} rows`)
    t.ok(size > 20e6, `${format} input is ${(size / 1e6).toFixed(0)} MB`)
    t.ok(out.hwm < 200e6, `${format} peak RSS ${(out.hwm / 1e6).toFixed(0)} MB < 200 MB`)
    rmSync(path)
  }
})

t.test('timestamps keep microseconds; offsets are applied; no offset means UTC', async t => {
  const batches = await read('ndjson', [
    '{"ts":"2024-03-01T10:00:00.123456Z"}',
    '{"ts":"2024-03-01T12:00:00.5+02:00"}',
    '{"ts":"2024-03-01 10:00:00"}'
  ].join('\n'))
  t.same(types(batches[0]), ['ts:Timestamp<MICROSECOND, UTC>?'])
  t.same([...batches[0].getChildAt(0)!.data[0].values as BigInt64Array].map(String), [
    String(Date.UTC(2024, 2, 1, 10) * 1000 + 123456),
    String(Date.UTC(2024, 2, 1, 10) * 1000 + 500000),
    String(Date.UTC(2024, 2, 1, 10) * 1000)
  ])
})
