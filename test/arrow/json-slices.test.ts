import t from 'tap'
import { readNdjson } from '../../src/arrow/json.ts'
import { readJsonArrayStream } from '../../src/ingest/json-array.ts'
import { rowsPerBatch } from '../../src/arrow/json-slices.ts'
import { toArrowSchema } from '../../src/schema/types.ts'
import { chunked, streamOf } from '../helpers/arrow.ts'
import { loopProbe } from '../helpers/loop-probe.ts'

/*
 * The JSON readers work in slices (src/arrow/json-slices.ts): blank lines are counted without
 * being decoded, a line or element spanning chunks is decoded as it arrives, a batch is cut
 * early for wide schemas. Values and messages stay what they were.
 */
const JSONERR = (message: string) => ({ code: 'QUIVER_INVALID_JSON', statusCode: 400, message: `Invalid JSON data: ${message}` })
const schema = toArrowSchema({ fields: [{ name: 's', type: 'string', nullable: true }] })
const MiB = 1024 * 1024

const strings = (r: { batches: Array<{ numRows: number, get: (i: number) => unknown }> }) =>
  r.batches.flatMap((b) => Array.from({ length: b.numRows }, (_, i) => (b.get(i) as { toJSON: () => { s: string | null } }).toJSON().s))

t.test('16 Mi blank lines in one chunk are counted quickly, in slices (before: 3.7 s of one stall)', async (t) => {
  const body = Buffer.alloc(16 * MiB + 2, 0x0a)
  body.write(' \r\t', 100) // a line of spaces, CR and tab is blank too
  body.write('x', 16 * MiB)
  const probe = loopProbe()
  await t.rejects(readNdjson(body, { maxBytes: 1e9, schema }), JSONERR(`line ${16 * MiB - 2}: not valid JSON`), 'lines are still numbered')
  const stall = probe.stop()
  t.ok(stall.heldMs < 600, `event loop held at most ${stall.heldMs.toFixed(0)} ms (longest gap ${stall.wallMs.toFixed(0)} ms)`)
  const r = await readNdjson(streamOf([Buffer.from('\n\n  \n{"s":"a"}\r\n\n')]), { maxBytes: 1e9, schema })
  t.same([r.rows, strings(r)], [1, ['a']])
})

t.test('a line spanning many chunks, split inside multi-byte characters, is read exactly', async (t) => {
  const long = 'ü€😀x'.repeat(100_000)
  const body = Buffer.from(`{"s":"a"}\n{"s":"${long}"}\n  {"s":"b"}`)
  for (const size of [997, 64 * 1024 + 1]) {
    const r = await readNdjson(streamOf(chunked(body, size)), { maxBytes: 1e9, schema })
    t.same([r.rows, r.bytes], [3, body.byteLength], `chunks of ${size}`)
    t.ok(strings(r).join('|') === `a|${long}|b`, 'values exact')
  }
  const bad = Buffer.concat([Buffer.from('{}\n{"s":"'), Buffer.alloc(200_000, 0x61), Buffer.from([0xc3]), Buffer.from('"}\n')])
  await t.rejects(readNdjson(streamOf(chunked(bad, 1000)), { maxBytes: 1e9, schema }), JSONERR('line 2: not valid UTF-8'))
  const cut = Buffer.concat([Buffer.from('{"s":"'), Buffer.alloc(200_000, 0x61), Buffer.from([0xe2, 0x82])])
  await t.rejects(readNdjson(streamOf(chunked(cut, 1000)), { maxBytes: 1e9, schema }), JSONERR('line 1: not valid UTF-8'), 'a last line cut inside a character')
})

t.test('JSON arrays: a long element across chunks, and whitespace between elements, read exactly', async (t) => {
  const long = 'é"\\\\'.repeat(200_000) // quotes and backslashes escaped inside: the splitter must skip them
  const body = Buffer.from(`[{"s":"a"},${' '.repeat(MiB)}\n${JSON.stringify({ s: long })} , {"s":"b"}]`)
  for (const size of [999, 64 * 1024]) {
    const r = await readJsonArrayStream(streamOf(chunked(body, size)), { maxBytes: 1e9, schema })
    t.same([r.rows, r.bytes], [3, body.byteLength], `chunks of ${size}`)
    t.ok(strings(r).join('|') === `a|${long}|b`, 'values exact')
  }
})

t.test('strings are encoded into the column as Buffer.from would (lone surrogates included)', async (t) => {
  const values = ['', 'a', 'ü€😀', '\ud800x', 'z'.repeat(70_000)]
  const r = await readNdjson(streamOf([Buffer.from(values.map((s) => JSON.stringify({ s })).join('\n'))]), { maxBytes: 1e9, schema })
  const data = r.batches[0].getChild('s')!.data[0]
  t.same(Buffer.from(data.values), Buffer.concat(values.map((s) => Buffer.from(s))))
  t.same(Array.from(data.valueOffsets), [0, ...values.map((_, i) => Buffer.byteLength(values.slice(0, i + 1).join('')))])
})

t.test('a batch of a wide schema is cut at a million cells', async (t) => {
  const wide = toArrowSchema({ fields: Array.from({ length: 300 }, (_, i) => ({ name: `f${i}`, type: 'int32', nullable: true })) })
  t.equal(rowsPerBatch(wide, 10_000), 3333)
  t.equal(rowsPerBatch(schema, 10_000), 10_000)
  t.equal(rowsPerBatch(schema, 50), 50)
  const r = await readNdjson(Buffer.from('{"f7":7}\n'.repeat(7000)), { maxBytes: 1e9, schema: wide })
  t.same([r.rows, r.batches.map((b) => b.numRows)], [7000, [3333, 3333, 334]])
  t.equal(r.batches[2].getChild('f7')!.get(333), 7)
  const a = await readJsonArrayStream(streamOf([Buffer.from('[' + Array(7000).fill('{"f7":7}').join(',') + ']')]), { maxBytes: 1e9, schema: wide })
  t.same(a.batches.map((b) => b.numRows), [3333, 3333, 334])
})
