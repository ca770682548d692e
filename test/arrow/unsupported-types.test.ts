import t from 'tap'
import * as fl from '@uwdata/flechette'
import pl from 'nodejs-polars'
import { ByteBuffer } from 'flatbuffers'
import { Decimal, Field, Int32, List, makeData, RecordBatch, Schema, Struct, tableToIPC, Table, vectorFromArray } from 'apache-arrow'
import { Message } from 'apache-arrow/fb/message'
import { Schema as FbSchema } from 'apache-arrow/fb/schema'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'

/*
 * A type the gateway cannot decode or store is a 415 naming the field, the type and
 * what to send instead (never a 5xx, never a bare 400 from apache-arrow), and a decimal value
 * wider than its declared precision is a 422 naming the field. Streams from real producers
 * (flechette 2.6.0, nodejs-polars 0.25.2) where they can write the type.
 */
const flechette = (type: fl.DataType, values: unknown[]) =>
  Buffer.from(fl.tableToIPC(fl.tableFromArrays({ c: values }, { types: { c: type } }), { format: 'stream' })!)

/** An apache-arrow stream whose first field's type tag is rewritten (no JS producer writes list views). */
function withTypeTag (stream: Uint8Array, tag: number): Buffer {
  const out = Buffer.from(stream)
  const meta = new ByteBuffer(out.subarray(8, 8 + out.readInt32LE(4)))
  const field = Message.getRootAsMessage(meta).header(new FbSchema())!.fields(0)!
  const slot = field.bb!.__offset(field.bb_pos, 8) // Field.type_type
  out[8 + field.bb_pos + slot] = tag
  return out
}

const unsupported = (message: string) => ({ statusCode: 415, code: 'QUIVER_UNSUPPORTED_TYPE', error: 'Unsupported Media Type', message: `Unsupported Arrow data: ${message}` })

t.test('types apache-arrow 21.2.0 cannot decode, or no topic can hold: 415 naming field, type and what to send', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const writer = localToken(dataDir, ['write'])
  const post = (topic: string, payload: Buffer) => app.inject({ method: 'POST', url: `/v1/topics/${topic}/records`, headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' }, payload })
  const list = tableToIPC(new Table({ c: vectorFromArray([[1], [2, 3]], new List(new Field('item', new Int32(), true))) }), 'stream')
  const cases: Array<[string, Buffer, string]> = [
    ['ree', flechette(fl.runEndEncoded(fl.int32(), fl.utf8()), ['a', 'a', 'b']), 'field "c" has Arrow type run_end_encoded, which this gateway cannot decode or store; send its values type, decoded (pyarrow: pc.run_end_decode) instead'],
    ['lv', withTypeTag(list, 25), 'field "c" has Arrow type list_view, which this gateway cannot decode or store; send list<item: T> (pyarrow: .cast(pa.list_(T))) instead'],
    ['llv', withTypeTag(list, 26), 'field "c" has Arrow type large_list_view, which this gateway cannot decode or store; send large_list<item: T> (pyarrow: .cast(pa.large_list(T))) instead'],
    ['un', flechette(fl.union(0, [fl.int32(), fl.utf8()], [0, 1], (v: unknown) => typeof v === 'number' ? 0 : 1), [1, 'a']), 'field "c" has Arrow type union, which this gateway cannot decode or store; send a struct with one nullable field per member instead'],
    ['ivl', flechette(fl.interval(2), [[1, 2, 3n]]), 'field "c" has Arrow type interval, which this gateway cannot decode or store; send duration[unit], or a struct of its parts (months: int32, days: int32, nanoseconds: int64) instead'],
    ['nul', flechette(fl.nullType(), [null, null]), 'field "c" has Arrow type null, which this gateway cannot decode or store; send a nullable column of the intended type (e.g. string) instead'],
    ['nested', flechette(fl.struct({ inner: fl.runEndEncoded(fl.int32(), fl.int32()) }), [{ inner: 1 }]), 'field "c.inner" has Arrow type run_end_encoded, which this gateway cannot decode or store; send its values type, decoded (pyarrow: pc.run_end_decode) instead']
  ]
  for (const [topic, body, message] of cases) {
    const res = await post(topic, body)
    t.same([res.statusCode, res.json()], [415, unsupported(message)], topic)
  }
  const compressed = pl.DataFrame({ a: [1, 2, 3] }).writeIPCStream({ compression: 'zstd' })
  const res = await post('zst', compressed)
  t.same([res.statusCode, res.json()], [415, unsupported('IPC body compression zstd cannot be decoded; send the stream uncompressed (polars: compression: "uncompressed"; pyarrow: IpcWriteOptions(compression=None))')])
  // nothing was created by any of them
  const topics = await app.inject({ url: '/v1/topics', headers: { authorization: `Bearer ${writer}` } })
  t.same(topics.json(), { topics: [] })
})

t.test('decimal values wider than the declared precision: 422 QUIVER_DECIMAL_PRECISION naming the field, nothing stored', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const writer = localToken(dataDir, ['write'])
  const post = (payload: Buffer) => app.inject({ method: 'POST', url: '/v1/topics/money/records', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' }, payload })
  // flechette writes whatever it is given: 123456.78 does not fit decimal(5, 2)
  const over = await post(flechette(fl.decimal(5, 2), [1.5, null, 123456.78]))
  t.same([over.statusCode, over.json()], [422, {
    statusCode: 422,
    code: 'QUIVER_DECIMAL_PRECISION',
    error: 'Unprocessable Entity',
    message: 'Decimal value out of range: field "c": value 123456.78 at row 2 has more than 5 digits (declared decimal128(5, 2))'
  }])
  // a negative 38-digit overflow in decimal128(38, 0), and the largest value that fits is accepted
  const words = (v: bigint) => { const a = new Uint32Array(4); for (let i = 0; i < 4; i++) a[i] = Number(BigInt.asUintN(32, v >> BigInt(32 * i))); return a }
  const dec = (vals: bigint[]) => {
    const type = new Decimal(0, 38, 128)
    const data = new Uint32Array(vals.length * 4)
    vals.forEach((v, i) => data.set(words(v), i * 4))
    const f = [new Field('c', type, true)]
    const child = makeData({ type, length: vals.length, nullCount: 0, data })
    return Buffer.from(tableToIPC(new Table([new RecordBatch(new Schema(f), makeData({ type: new Struct(f), length: vals.length, nullCount: 0, children: [child] }))]), 'stream'))
  }
  const max = 10n ** 38n - 1n
  t.equal((await post(dec([max, -max, 0n]))).statusCode, 200)
  const neg = await post(dec([1n, -(10n ** 38n)]))
  t.same([neg.statusCode, neg.json().message], [422, `Decimal value out of range: field "c": value -1${'0'.repeat(38)} at row 1 has more than 38 digits (declared decimal128(38, 0))`])
  const rows = await app.inject({ url: '/v1/topics/money', headers: { authorization: `Bearer ${writer}` } })
  t.equal(rows.statusCode, 200)
  await app.inject({ method: 'POST', url: '/v1/admin/flush', headers: { authorization: `Bearer ${localToken(dataDir, ['admin'])}` } })
  const files = await app.inject({ url: '/v1/topics/money/files', headers: { authorization: `Bearer ${writer}` } })
  t.equal(files.json().files.reduce((n: number, f: { rows: number }) => n + f.rows, 0), 3, 'only the accepted request\'s 3 rows are stored')
})
