import t from 'tap'
import { readJsonArrayStream } from '../../src/ingest/json-array.ts'
import { chunked, makeRows, streamOf, TEST_ARROW_SCHEMA } from '../helpers/arrow.ts'

const JSONERR = (message: string) => ({ code: 'QUIVER_INVALID_JSON', statusCode: 400, message: `Invalid JSON data: ${message}` })
const opts = { maxBytes: 1e6, schema: TEST_ARROW_SCHEMA }

t.test('elements split at every chunk boundary give the rows JSON.parse gives', async (t) => {
  // Strings with brackets, commas, escaped quotes and multi-byte characters inside.
  const rows = makeRows(7).map((r, i) => ({ ...r, name: ['a,]b', 'q\\"}{', 'ü€😀', '[', '\\', ']', ','][i] }))
  const body = Buffer.from(' \n' + JSON.stringify(rows, null, 1) + '\n ')
  const want = JSON.parse(body.toString()).map((r: { id: number }) => BigInt(r.id))
  for (let size = 1; size <= body.byteLength; size += size < 40 ? 1 : 37) {
    const r = await readJsonArrayStream(streamOf(chunked(body, size)), { ...opts, batchRows: 3 })
    const got = r.batches.flatMap((b) => Array.from(b.getChild('id')!.toArray() as BigInt64Array))
    const names = r.batches.flatMap((b) => Array.from({ length: b.numRows }, (_, k) => b.get(k)!.toJSON().name))
    if (!t.same([got, names, r.rows, r.bytes, r.batches.length], [want, rows.map((x) => x.name), 7, body.byteLength, 3], `chunks of ${size}`)) break
  }
})

t.test('an empty array is no rows; whitespace around is fine', async (t) => {
  t.same(await readJsonArrayStream(streamOf([Buffer.from(' [ ] ')]), opts), { batches: [], rows: 0, bytes: 5 })
})

t.test('the messages of the whole-body reader, and nothing kept on error', async (t) => {
  const cases: Array<[string, string]> = [
    ['{"id":1}', 'expected a JSON array of objects, got object'],
    ['5', 'expected a JSON array of objects, got 5'],
    ['[{"id":1,"ts":0}, 5]', 'row 1: expected a JSON object, got 5'],
    ['[{"id":1,"ts":0}, [1]]', 'row 1: expected a JSON object, got array'],
    ['[{"id":1,"ts":0}, {"id":2,"ts":0,"price":"abc"}]', 'row 1: field "price": expected double, got "abc"'],
    ['[{"id":1', 'body is not valid JSON'],
    ['[{"id":1,"ts":0},]', 'body is not valid JSON'],
    ['[,{"id":1,"ts":0}]', 'body is not valid JSON'],
    ['[{"id":1,"ts":0}] x', 'body is not valid JSON'],
    ['[{"id":1 "ts":0}]', 'body is not valid JSON'],
    ['', 'body is not valid JSON']
  ]
  for (const [text, message] of cases) {
    await t.rejects(readJsonArrayStream(streamOf(chunked(Buffer.from(text), 3)), opts), JSONERR(message), JSON.stringify(text))
  }
  const body = Buffer.from(JSON.stringify(makeRows(30)))
  await t.rejects(readJsonArrayStream(streamOf(chunked(body, 100)), { ...opts, maxBytes: 1000 }), { code: 'QUIVER_PAYLOAD_TOO_LARGE' })
})
