import t from 'tap'
import { Dictionary, Field, Int32, List, makeData, RecordBatch, Schema, Struct, Utf8, vectorFromArray } from 'apache-arrow'
import { readArrowFile, readArrowMessage, readArrowStream } from '../../src/arrow/decode.ts'
import { toIpcStream } from '../../src/arrow/encode.ts'
import { checkBatch } from '../../src/arrow/validate.ts'
import { matchSchema, normaliseBatch } from '../../src/arrow/compare.ts'
import { toArrowSchema } from '../../src/schema/types.ts'
import { chunked, ipcMessages, makeBatch, makeIpcFile, makeIpcStream, streamOf, TEST_ARROW_SCHEMA } from '../helpers/arrow.ts'
import { growth, LINEAR } from '../helpers/cost.ts'

const LIMITS = { maxBytes: 64 * 1024 * 1024 }
const ARROW = (message: string) => ({ code: 'QUIVER_INVALID_ARROW', statusCode: 400, message: `Invalid Arrow IPC data: ${message}` })

t.test('a stream in 1-, 7- and 4096-byte chunks decodes to the exact rows', async (t) => {
  const ipc = makeIpcStream(25_000)
  for (const size of [1, 7, 4096]) {
    // tiny chunks over the schema and first batch header, then the rest in one piece
    const source = size === 4096 ? streamOf(chunked(ipc, size)) : streamOf(chunked(ipc.subarray(0, 3000), size).concat([ipc.subarray(3000)]))
    const r = await readArrowStream(source, LIMITS)
    t.equal(r.rows, 25_000)
    t.equal(r.batches.length, 3)
    t.equal(r.bytes, ipc.byteLength)
    t.same(matchSchema(TEST_ARROW_SCHEMA, r.schema), { ok: true, reorder: null })
    let sum = 0n
    for (const b of r.batches) for (const v of b.getChild('id')!) sum += v as bigint
    t.equal(sum, 25_000n * 24_999n / 2n)
    t.same(r.batches[2].get(4999)?.toJSON(), { id: 24_999n, name: 'name-24999', price: 37498.5, ts: 1714564800000 + 24_999_000, ok: false })
  }
})

t.test('Node readable streams work', async (t) => {
  const { Readable } = await import('node:stream')
  const r = await readArrowStream(Readable.from(chunked(makeIpcStream(10), 100)), LIMITS)
  t.equal(r.rows, 10)
})

t.test('garbage, empty and non-schema starts are 400 with a clear message', async (t) => {
  const ipc = makeIpcStream(3)
  const cases: Array<[Uint8Array, string]> = [
    [Buffer.from('hello world, this is not arrow at all'), 'message 1 claims a metadata length of 1819043176 bytes, over the limit of 16777216 bytes'],
    [Buffer.from('{"id": 1}\n'), 'message 1 claims a metadata length of 1684611707 bytes, over the limit of 16777216 bytes'],
    [new Uint8Array(0), 'empty stream: no schema message'],
    [Uint8Array.of(255, 255, 255, 255, 0, 0, 0, 0), 'empty stream: no schema message'],
    [Uint8Array.of(255, 255, 255, 255, 250, 255, 255, 255), 'message 1 has a negative metadata length (-6)'],
    [Uint8Array.of(255, 255, 255, 255, 16, 0, 0, 0, ...new Uint8Array(16).fill(9)), 'malformed message header (root offset out of range)'],
    [ipc.subarray(ipcMessages(ipc)[1].start), 'the stream must start with a schema message, got record batch'],
    [Buffer.concat([ipc, Buffer.from('trailing')]), 'unexpected data after the end-of-stream marker (message 3)']
  ]
  for (const [bytes, message] of cases) await t.rejects(readArrowStream(streamOf([bytes]), LIMITS), ARROW(message), message)
})

t.test('Arrow IPC file format', async (t) => {
  const file = makeIpcFile(1500, { batchRows: 1000 })
  const r = await readArrowFile(file, LIMITS)
  t.equal(r.rows, 1500)
  t.equal(r.batches.length, 2)
  t.equal(r.bytes, file.byteLength)
  t.same(r.batches[1].get(499)?.toJSON(), { id: 1499n, name: 'name-1499', price: 2248.5, ts: 1714564800000 + 1_499_000, ok: false })
  t.equal((await readArrowMessage(file, LIMITS)).rows, 1500, 'readArrowMessage recognises files')
  // a file whose stream region carries the schema (as pyarrow writes it)
  const stream = makeIpcStream(7)
  const footer = file.subarray(file.byteLength - 10 - new DataView(file.buffer, file.byteOffset + file.byteLength - 10).getInt32(0, true))
  const withSchema = Buffer.concat([Buffer.from('ARROW1\0\0'), stream, footer])
  t.equal((await readArrowFile(withSchema, LIMITS)).rows, 7)
  await t.rejects(readArrowFile(file, { maxBytes: 100 }), { code: 'QUIVER_PAYLOAD_TOO_LARGE' })
  await t.rejects(readArrowFile(stream, LIMITS), ARROW('not an Arrow IPC file (missing ARROW1 magic at the start)'))
  await t.rejects(readArrowFile(file.subarray(0, file.byteLength - 3), LIMITS), ARROW('truncated Arrow IPC file (missing ARROW1 magic at the end)'))
  const badFooter = file.slice()
  new DataView(badFooter.buffer).setInt32(badFooter.byteLength - 10, 1e9, true)
  await t.rejects(readArrowFile(badFooter, LIMITS), ARROW('invalid footer length 1000000000'))
  const cut = Buffer.concat([file.subarray(0, 2000), file.subarray(file.byteLength - 10 - footer.byteLength + 10 - 10)])
  await t.rejects(readArrowFile(cut, LIMITS), { code: 'QUIVER_INVALID_ARROW' })
})

t.test('WebSocket messages: one complete stream per buffer', async (t) => {
  const ipc = makeIpcStream(42)
  const r = await readArrowMessage(ipc, LIMITS)
  t.equal(r.rows, 42)
  t.equal(r.bytes, ipc.byteLength)
  await t.rejects(readArrowMessage(ipc, { maxBytes: 100 }), { code: 'QUIVER_PAYLOAD_TOO_LARGE', message: 'Request body exceeds 100 bytes' })
  await t.rejects(readArrowMessage(ipc.subarray(0, ipc.byteLength - 8), LIMITS), ARROW('truncated stream: input ended after message 2 without the end-of-stream marker'))
})

t.test('dictionary-encoded columns decode and normalise to plain strings', async (t) => {
  const topic = toArrowSchema({ fields: [{ name: 'tag', type: 'string', nullable: true }, { name: 'n', type: 'int32', nullable: false }] })
  const dictType = new Dictionary(new Utf8(), new Int32())
  const fields = [new Field('tag', dictType, true), new Field('n', new Int32(), false)]
  const schema = new Schema(fields)
  const batch = (tags: Array<string | null>, start: number) => new RecordBatch(schema, makeData({
    type: new Struct(fields),
    length: tags.length,
    nullCount: 0,
    children: [vectorFromArray(tags, dictType).data[0], vectorFromArray(tags.map((_, i) => start + i), new Int32()).data[0]]
  }))
  const ipc = toIpcStream([batch(['x', 'y', null], 0), batch(['z', 'x'], 3)], schema)
  const r = await readArrowStream(streamOf(chunked(ipc, 10)), LIMITS)
  t.equal(r.rows, 5)
  const m = matchSchema(topic, r.schema)
  t.same(m, { ok: true, reorder: null })
  if (!m.ok) return
  const rows = r.batches.flatMap(b => normaliseBatch(b, topic, m.reorder).toArray().map(x => x.toJSON()))
  t.same(rows, [{ tag: 'x', n: 0 }, { tag: 'y', n: 1 }, { tag: null, n: 2 }, { tag: 'z', n: 3 }, { tag: 'x', n: 4 }])
  // a record batch whose dictionary never arrived
  const parts = ipcMessages(ipc)
  const noDict = Buffer.concat([ipc.subarray(0, parts[0].end), ipc.subarray(parts[1].end)])
  const err = await readArrowStream(streamOf([noDict]), LIMITS).then(() => null, e => e)
  t.equal(err?.code, 'QUIVER_INVALID_ARROW')
})

t.test('zero-row batches are skipped; a schema-only stream has no batches', async (t) => {
  const ipc = toIpcStream([makeBatch(0), makeBatch(3), makeBatch(0)])
  const r = await readArrowStream(streamOf([ipc]), LIMITS)
  t.equal(r.rows, 3)
  t.equal(r.batches.length, 1)
  const empty = await readArrowStream(streamOf([toIpcStream([], TEST_ARROW_SCHEMA)]), LIMITS)
  t.same([empty.rows, empty.batches.length, empty.schema.fields.length], [0, 0, 5])
  await t.rejects(readArrowStream(streamOf([toIpcStream([], new Schema([]))]), LIMITS), ARROW('the schema has no fields'))
})

t.test('10,000 columns decode in time linear in the columns', async (t) => {
  const ipcOf = (n: number) => {
    const fields = Array.from({ length: n }, (_, i) => new Field(`c${i}`, new Int32(), false))
    const schema = new Schema(fields)
    // one Data per column: apache-arrow's writer corrupts bodies when columns share a Data object
    const batch = () => new RecordBatch(schema, makeData({
      type: new Struct(fields),
      length: 10,
      nullCount: 0,
      children: fields.map(f => makeData({ type: f.type, length: 10, nullCount: 0, data: Int32Array.from({ length: 10 }, (_, i) => i) }))
    }))
    return toIpcStream([batch(), batch(), batch()], schema)
  }
  const ipcs = new Map([2_500, 10_000].map((n) => [n, ipcOf(n)]))
  const r = await readArrowStream(streamOf(chunked(ipcs.get(10_000)!, 65536)), LIMITS)
  t.equal(r.rows, 30)
  t.equal(r.schema.fields.length, 10_000)
  t.equal(r.batches[2].getChildAt(9999)?.get(9), 9)
  // CPU at 2,500 and 10,000 columns compared in this run (test/helpers/cost.ts), not fixed milliseconds.
  const decoding = await growth((n) => readArrowStream(streamOf(chunked(ipcs.get(n)!, 65536)), LIMITS), 2_500)
  t.ok(decoding.ratio < LINEAR, `decoding linear in the column count: ${decoding.text}`)
})

t.test('nesting is bounded at 32 levels', async (t) => {
  const nest = (depth: number) => {
    let type: List | Int32 = new Int32()
    for (let i = 0; i < depth; i++) type = new List(new Field('item', type, true))
    return new Schema([new Field('deep', type, true)])
  }
  t.equal((await readArrowStream(streamOf([toIpcStream([], nest(31))]), LIMITS)).schema.fields.length, 1)
  await t.rejects(readArrowStream(streamOf([toIpcStream([], nest(40))]), LIMITS),
    ARROW(`field "deep${'.item'.repeat(32)}" is nested deeper than 32 levels`))
})

t.test('batches whose buffers do not cover their rows are rejected', async (t) => {
  const fields = [new Field('v', new Int32(), false)]
  const lying = makeData({ type: new Int32(), length: 10, nullCount: 0, data: new Int32Array(2) })
  const batch = new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: 10, nullCount: 0, children: [lying] }))
  t.throws(() => checkBatch(batch), ARROW('column "v": values too short for 10 rows'))
  const s = makeData({ type: new Utf8(), length: 2, nullCount: 0, valueOffsets: Int32Array.of(0, 5, 3), data: new Uint8Array(5) })
  const sf = [new Field('s', new Utf8(), false)]
  t.throws(() => checkBatch(new RecordBatch(new Schema(sf), makeData({ type: new Struct(sf), length: 2, nullCount: 0, children: [s] }))),
    ARROW('column "s": offsets decrease at row 1'))
})
