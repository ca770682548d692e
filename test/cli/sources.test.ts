import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { DataType, Field, Int32, Schema, Table, tableToIPC, Utf8, type RecordBatch } from 'apache-arrow'
import { Table as WasmTable, writeParquet, WriterPropertiesBuilder } from 'parquet-wasm'
import t from 'tap'
import { READERS, detectFormat, type Format } from '../../src/cli/sources/index.ts'
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

/** The message a source fails with, with the file's path replaced by `FILE`; '' if it succeeds. */
async function failure (format: Format, text: string, batchRows = 1000, schema?: Schema): Promise<string> {
  const path = join(dir, `bad-${Math.random().toString(36).slice(2)}.${format}`)
  writeFileSync(path, text)
  try {
    const batches = READERS[format](path, { batchRows, schema })
    while (!(await batches.next()).done) { /* drain */ }
  } catch (err) {
    return (err as Error).message.replaceAll(path, 'FILE')
  }
  return ''
}

/** JSON-friendly values: int64 as a number when exact (else a string), timestamps and dates as ISO strings. */
function jsonValue (field: Field, v: unknown): unknown {
  if (v === null || v === undefined) return null
  const type = field.type
  if ((DataType.isTimestamp(type) || DataType.isDate(type)) && (typeof v === 'number' || typeof v === 'bigint')) {
    return new Date(Number(v)).toISOString()
  }
  if (typeof v === 'bigint') return v >= Number.MIN_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER ? Number(v) : v.toString()
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64')
  if (typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    return JSON.parse(JSON.stringify(v, (_k, x) => typeof x === 'bigint' ? x.toString() : x))
  }
  return v
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
    // RFC 4180: a line break inside quotes is part of the field, CRLF as written (csv-parse keeps it)
    { id: 2, name: 'two\r\nlines', value: null, ts: '2024-01-02T10:00:00.000Z', ok: false },
    { id: 3, name: 'plain', value: -300, ts: null, ok: null }
  ])
})

t.test('CSV: the topic schema decides types; columns match by name; absent columns are null', async t => {
  const schema = new Schema([new Field('n', new Int32(), false), new Field('label', new Utf8(), true), new Field('extra', new Utf8(), true)])
  const batches = await read('csv', 'label,n\nx,1\n"",2\n', 10, schema)
  t.same(types(batches[0]), ['n:Int32', 'label:Utf8?', 'extra:Utf8?'])
  t.same(rows(batches), [{ n: 1, label: 'x', extra: null }, { n: 2, label: '', extra: null }])
  t.equal(await failure('csv', 'label,n\nx,\n', 10, schema), 'FILE: line 2: field "n": no value, but the field is not nullable')
  t.equal(await failure('csv', 'label,n\nx,1.5\n', 10, schema), 'FILE: line 2: field "n": expected int32, got "1.5"')
  await t.rejects(read('csv', 'label,n,zzz\nx,1,2\n', 10, schema), /columns not in the topic's schema: zzz/)
})

t.test('CSV: bad records are errors naming the line', async t => {
  t.equal(await failure('csv', 'a,b\n1,2\n3\n'), 'FILE: line 3: expected 2 fields, found 1')
  t.equal(await failure('csv', 'a,b\n1,"open\n'), 'FILE: line 2: unterminated quoted field at the end of the file')
  t.equal(await failure('csv', 'a,b\n1,2\n\n\n3,"open\nmore\n'), 'FILE: line 5: unterminated quoted field at the end of the file', 'blank lines before it counted')
  t.match(await failure('csv', 'a,b\n1,"x"y\n'), /^FILE: line 2: Invalid Closing Quote/)
  // csv-parse counts a CRLF inside a quoted field as two lines; the reader corrects for it.
  t.equal(await failure('csv', 'a,b\r\n1,"x\r\ny"\r\n2,"p\r\nq\nr"\r\n\r\n3\r\n'), 'FILE: line 8: expected 2 fields, found 1')
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
  t.equal(await failure('ndjson', '{"a":1}\n{"a":2,"z":3}\n', 1), 'FILE: line 2: field "z" is not in the schema (a)')
  t.match(await failure('ndjson', '{"a":1}\n{"a":\n'), /^FILE: line 2: invalid JSON: /)
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
  t.equal(await failure('json', '{"a":1}'), 'FILE: line 1: expected a JSON array of objects')
  t.equal(await failure('json', '[{"a":1},'), 'FILE: truncated JSON array')
  t.equal(await failure('json', '[\n{"a":1},\n2]'), 'FILE: line 3, element 2: expected a JSON object')
})

t.test('conversion errors name the line in the whole file and the field, not the row within the batch', async t => {
  // The bad value sits in the third batch. Types are inferred from the first; line 1 is the header.
  const csv = ['id,name,price']
  for (let line = 2; line <= 13_000; line++) csv.push(`${line},n${line},${line === 12_345 ? 'abc' : line / 4}`)
  t.equal(await failure('csv', csv.join('\n') + '\n', 5000), 'FILE: line 12345: field "price": expected double, got "abc"')

  // A quoted field spanning lines: the record after it still gets its own file line.
  const quoted = 'id,note\n1,"two\nlines"\n' + Array.from({ length: 2500 }, (_, k) => `${k + 2},x`).join('\n') + '\n2502,oops\n'
  t.equal(quoted.split('\n').indexOf('2502,oops') + 1, 2504)
  t.equal(await failure('csv', quoted.replace('2502,oops', '2.5,oops'), 1000), 'FILE: line 2504: field "id": expected int64, got "2.5"')

  // The topic's schema: an empty non-nullable value far into the file.
  const schema = new Schema([new Field('n', new Int32(), false), new Field('label', new Utf8(), true)])
  const ns = 'n,label\n' + Array.from({ length: 3000 }, (_, k) => `${k === 2200 ? '' : k},x`).join('\n') + '\n'
  t.equal(await failure('csv', ns, 1000, schema), 'FILE: line 2202: field "n": no value, but the field is not nullable')

  // NDJSON: blank lines count as lines.
  const nd = Array.from({ length: 3000 }, (_, k) => k === 2600 ? '{"id":2600,"price":"abc"}' : k % 500 === 0 ? `\n{"id":${k},"price":${k}}` : `{"id":${k},"price":${k / 2}}`)
  t.equal(await failure('ndjson', nd.join('\n') + '\n', 1000), 'FILE: line 2607: field "price": expected double, got "abc"')
  t.equal(await failure('ndjson', nd.join('\n').replace('{"id":2600,"price":"abc"}', '{"id":2600,"price":1,"extra":true}'), 1000),
    'FILE: line 2607: field "extra" is not in the schema (id, price)')

  // JSON array: the line the element starts on, and the element's number.
  const elements = Array.from({ length: 3000 }, (_, k) => k === 10 ? '{\n  "id": 10,\n  "ok": true\n}' : k === 2345 ? '{"id": 2345, "ok": "maybe"}' : `{"id": ${k}, "ok": ${k % 2 === 0}}`)
  t.equal(await failure('json', '[\n' + elements.join(',\n') + '\n]\n', 1000), 'FILE: line 2350, element 2346: field "ok": expected bool, got "maybe"')
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
    // The heap limit above is the real guard. RSS adds Node's and tsx's own footprint: 159-177 MB
    // measured on Node 20, 170-202 MB on Node 22 (larger code space); 256 MB leaves margin for both.
    t.ok(out.hwm < 256e6, `${format} peak RSS ${(out.hwm / 1e6).toFixed(0)} MB < 256 MB`)
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
