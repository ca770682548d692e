import t from 'tap'
import { Field, Int64, RecordBatch, Schema, Struct, Utf8, makeData, vectorFromArray } from 'apache-arrow'
import { validateStream } from '../../src/ingest/validate-stream.ts'
import { toIpcStream } from '../../src/arrow/encode.ts'
import { readArrowStream } from '../../src/arrow/decode.ts'

const topic = {
  name: 'strict',
  createdAt: '2026-01-01T00:00:00.000Z',
  schema: { fields: [{ name: 'id', type: 'int64', nullable: false }, { name: 's', type: 'string', nullable: true }] }
}

t.test('nulls in a column the topic declares non-nullable are refused before they reach a flush', async (t) => {
  const ids = vectorFromArray([1n, null, 3n], new Int64())
  const s = vectorFromArray(['a', 'b', 'c'], new Utf8())
  // The producer claims non-nullable but the validity bitmap says row 1 is null.
  const schema = new Schema([new Field('id', new Int64(), false), new Field('s', new Utf8(), true)])
  const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: 3, nullCount: 0, children: [ids.data[0], s.data[0]] }))
  await t.rejects(async () => validateStream(topic, await readArrowStream([toIpcStream([batch])], { maxBytes: 1 << 20 })), {
    code: 'QUIVER_INVALID_ARROW',
    message: 'Invalid Arrow IPC data: column "id": declared non-nullable but holds nulls'
  })
})

t.test('strings that are not UTF-8 are refused', async (t) => {
  const ids = vectorFromArray([1n, 2n], new Int64())
  const bytes = new Uint8Array([0x61, 0xff, 0xfe])
  const s = makeData({ type: new Utf8(), length: 2, nullCount: 0, valueOffsets: new Int32Array([0, 1, 3]), data: bytes })
  const schema = new Schema([new Field('id', new Int64(), false), new Field('s', new Utf8(), true)])
  const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: 2, nullCount: 0, children: [ids.data[0], s] }))
  await t.rejects(readArrowStream([toIpcStream([batch])], { maxBytes: 1 << 20 }), {
    code: 'QUIVER_INVALID_ARROW',
    message: 'Invalid Arrow IPC data: column "s": strings are not valid UTF-8'
  })
})

t.test('valid rows pass and keep their values', async (t) => {
  const ids = vectorFromArray([1n, 2n], new Int64())
  const s = vectorFromArray(['x', null], new Utf8())
  const schema = new Schema([new Field('id', new Int64(), false), new Field('s', new Utf8(), true)])
  const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: 2, nullCount: 0, children: [ids.data[0], s.data[0]] }))
  const out = validateStream(topic, await readArrowStream([toIpcStream([batch])], { maxBytes: 1 << 20 }))
  t.same(out[0].toArray().map((r) => r.toJSON()), [{ id: 1n, s: 'x' }, { id: 2n, s: null }])
})
