import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import * as fl from '@uwdata/flechette'
import { DuckDBInstance } from '@duckdb/node-api'
import { readArrowFile, readArrowMessage, readArrowStream } from '../../src/arrow/decode.ts'
import { buildApp } from '../helpers/app.ts'
import { chunked, ipcMessages, streamOf } from '../helpers/arrow.ts'
import { localToken } from '../helpers/local-auth.ts'
import { postChunks } from '../helpers/post-chunks.ts'

/*
 * @uwdata/flechette 2.6.0 writes an IPC *file* with two end-of-stream markers before the footer
 * (its footer writer prepends one to the stream writer's). apache-arrow, polars and flechette read
 * it through the footer's offsets; Quiver reads the region as a stream and refused it with 400
 * "unexpected data after the end-of-stream marker". A file may now repeat the marker (a few KiB
 * of them at most); a stream still ends at its first, and any other data after it is refused.
 */

const LIMITS = { maxBytes: 64 * 1024 * 1024 }
const EOS = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)
const FILE = 'application/vnd.apache.arrow.file'
const STREAM = 'application/vnd.apache.arrow.stream'
const ARROW = (message: string) => ({ statusCode: 400, code: 'QUIVER_INVALID_ARROW', message: `Invalid Arrow IPC data: ${message}` })
const AFTER_EOS = 'unexpected data after the end-of-stream marker (message 6)'
/** The answer's whole body: the error's fields and its HTTP reason. */
const refusal = (message: string) => ({ status: 400, body: { ...ARROW(message), error: 'Bad Request' } })

/** Ints, int64, strings, a list (flechette leaves its child unnamed), a dictionary and nulls, in three record batches. */
function table (): fl.Table {
  return fl.tableFromArrays({
    id: [1, 2, 3, 4, 5],
    big: [2n ** 62n, null, -1n, 0n, 7n],
    name: ['ä', null, 'a string longer than twelve bytes', '', 'e'],
    l: [[1, 2], null, [], [null, 3], [4]],
    tag: ['x', null, 'y', 'x', 'y'],
    ok: [true, null, false, true, null]
  }, {
    types: { id: fl.int32(), big: fl.int64(), name: fl.utf8(), l: fl.list(fl.int32()), tag: fl.dictionary(fl.utf8()), ok: fl.bool() },
    maxBatchRows: 2
  })
}

/** What DuckDB prints for table()'s rows read back from the committed Parquet. */
const EXPECTED = [
  { id: '1', big: '4611686018427387904', name: 'ä', l: '[1, 2]', tag: 'x', ok: 'true' },
  { id: '2', big: null, name: null, l: null, tag: null, ok: null },
  { id: '3', big: '-1', name: 'a string longer than twelve bytes', l: '[]', tag: 'y', ok: 'false' },
  { id: '4', big: '0', name: '', l: '[NULL, 3]', tag: 'x', ok: 'true' },
  { id: '5', big: '7', name: 'e', l: '[4]', tag: 'y', ok: null }
]

const flechetteFile = (): Uint8Array => fl.tableToIPC(table(), { format: 'file' })!
const flechetteStream = (): Uint8Array => fl.tableToIPC(table(), { format: 'stream' })!

/** Where a file's footer starts (after its stream region). */
function footerStart (file: Uint8Array): number {
  return file.byteLength - 10 - new DataView(file.buffer, file.byteOffset + file.byteLength - 10, 4).getInt32(0, true)
}

/** `file` with `extra` inserted at the end of its stream region: the footer's offsets stay right. */
function beforeFooter (file: Uint8Array, ...extra: Uint8Array[]): Uint8Array {
  const at = footerStart(file)
  return Buffer.concat([file.subarray(0, at), ...extra, file.subarray(at)])
}

const repeat = (bytes: Uint8Array, n: number) => Buffer.concat(Array.from({ length: n }, () => bytes))

t.test('flechette 2.6.0 writes two end-of-stream markers before the footer (fails when that changes)', async (t) => {
  const file = flechetteFile()
  const at = footerStart(file)
  t.same([...file.subarray(at - 16, at)], [...EOS, ...EOS])
  // the region before them is the schema, one dictionary and three record batches, as the stream format has them
  t.same([...file.subarray(8, at - 8)], [...flechetteStream()])
})

t.test('decoding: a file may repeat its end-of-stream marker; nothing else follows it', async (t) => {
  const file = flechetteFile()
  const rows = async (bytes: Uint8Array) => (await readArrowFile(bytes, LIMITS)).batches.flatMap((b) => b.toArray().map((r) => r.toJSON()))
  const read = await readArrowFile(file, LIMITS)
  t.same([read.rows, read.batches.length, read.bytes], [5, 3, file.byteLength])
  t.same((await rows(file)).map((r) => [r.id, r.name, r.tag]), [[1, 'ä', 'x'], [2, null, null], [3, 'a string longer than twelve bytes', 'y'], [4, '', 'x'], [5, 'e', 'y']])
  t.equal((await readArrowMessage(file, LIMITS)).rows, 5, 'as a WebSocket message too')

  // Already two markers (16 bytes): 4096 bytes of them after the first are read; one more is refused unscanned.
  t.equal((await readArrowFile(beforeFooter(file, repeat(EOS, 511)), LIMITS)).rows, 5, '4096 bytes of markers')
  t.equal((await readArrowFile(beforeFooter(file, new Uint8Array(4), EOS, new Uint8Array(4)), LIMITS)).rows, 5, 'pre-1.0 4-byte markers')
  const batch = ipcMessages(flechetteStream())[2] // schema, dictionary, then the first record batch
  const refused: Array<[string, Uint8Array]> = [
    ['over 4096 bytes of markers', beforeFooter(file, repeat(EOS, 512))],
    ['text after the markers', beforeFooter(file, Buffer.from('junk'))],
    ['a continuation marker without its length', beforeFooter(file, EOS.subarray(0, 4))],
    ['two continuation markers', beforeFooter(file, EOS.subarray(0, 4), EOS)],
    ['a part of a marker', beforeFooter(file, new Uint8Array(2))],
    // other readers would read it through the footer: refused, never silently dropped
    ['a record batch after the marker', beforeFooter(file, file.subarray(8 + batch.start, 8 + batch.end))]
  ]
  for (const [what, bytes] of refused) await t.rejects(readArrowFile(bytes, LIMITS), ARROW(AFTER_EOS), what)

  // A stream still ends at its first marker: a second one, or anything else, is refused as before.
  const stream = flechetteStream()
  for (const tail of [EOS, new Uint8Array(4), Buffer.from('trailing')]) {
    await t.rejects(readArrowStream(streamOf([Buffer.concat([stream, tail])]), LIMITS), ARROW(AFTER_EOS))
    await t.rejects(readArrowMessage(Buffer.concat([stream, tail]), LIMITS), ARROW(AFTER_EOS))
  }
})

async function duckRows (glob: string): Promise<Array<Record<string, unknown>>> {
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  try {
    return (await conn.runAndReadAll(`SELECT COLUMNS(* EXCLUDE (__ingested_at))::VARCHAR FROM read_parquet('${glob}', hive_partitioning = false) ORDER BY id`)).getRowObjectsJS()
  } finally {
    conn.closeSync()
    db.closeSync()
  }
}

t.test('over HTTP: flechette files land with every row; a stream with data after its marker is refused', async (t) => {
  const { app, dataDir } = await buildApp(t, { FLUSH_INTERVAL_MS: '50' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const token = localToken(dataDir, ['write', 'read', 'admin'])
  const post = async (topic: string, contentType: string, body: Uint8Array, size = body.byteLength) => {
    const res = await postChunks(`${base}/v1/topics/${topic}/records`, token, chunked(body, size), { contentType })
    return { status: res.status, body: JSON.parse(res.body) as unknown }
  }
  const ok = (topic: string, body: Uint8Array, batches = 3) => ({ status: 200, body: { topic, rows: 5, batches, bytes: body.byteLength, ack: 'durable' } })
  const file = flechetteFile()
  const stream = flechetteStream()

  // the tester's reproduction: one int32 column
  const small = fl.tableToIPC(fl.tableFromArrays({ id: [1, 2, 3] }, { types: { id: fl.int32() } }), { format: 'file' })!
  t.same(await post('small_file', FILE, small), { status: 200, body: { topic: 'small_file', rows: 3, batches: 1, bytes: small.byteLength, ack: 'durable' } })
  t.same(await duckRows(join(dataDir, 'small_file', '**', '*.parquet')), [{ id: '1' }, { id: '2' }, { id: '3' }])

  const landed: Array<[string, string, Uint8Array, number?]> = [
    ['as_file', FILE, file],
    ['as_file_chunked', FILE, file, 7],
    // mislabelled (curl users call every .arrow a stream): sniffed by its magic, across chunks
    ['as_stream', STREAM, file, 5],
    ['flechette_stream', STREAM, stream]
  ]
  for (const [topic, contentType, body, size] of landed) {
    t.same(await post(topic, contentType, body, size), ok(topic, body), topic)
    t.same(await duckRows(join(dataDir, topic, '**', '*.parquet')), EXPECTED, `${topic}: the rows read back`)
  }

  // A stream body ends at its marker: a second marker or other bytes after it are a 400 as before, and nothing is stored.
  const refused: Array<[string, Uint8Array]> = [
    ['stream_twice_eos', Buffer.concat([stream, EOS])],
    ['stream_trailing', Buffer.concat([stream, Buffer.from('trailing')])]
  ]
  for (const [topic, body] of refused) {
    t.same(await post(topic, STREAM, body), refusal(AFTER_EOS), topic)
    t.notOk(existsSync(join(dataDir, topic)), `${topic}: nothing stored`)
    const res = await fetch(`${base}/v1/topics/${topic}`, { headers: { authorization: `Bearer ${token}` } })
    t.equal(res.status, 404, `${topic}: no topic created`)
  }
  // A file whose region holds data after the marker: 400 too (a reader using the footer would see more rows).
  const hidden = beforeFooter(file, Buffer.from('junk'))
  t.same(await post('file_junk', FILE, hidden), refusal(AFTER_EOS))
  t.notOk(existsSync(join(dataDir, 'file_junk')), 'file_junk: nothing stored')
})
