import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import pl from 'nodejs-polars'
import { DuckDBInstance } from '@duckdb/node-api'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { connect, frames } from '../helpers/ws-client.ts'

/*
 * A polars Categorical column (dictionary<uint32, large_string>), also nested in a struct
 * and a list, written by nodejs-polars 0.25.2 as an IPC *file* (`writeIPC`) and as a stream
 * (`writeIPCStream`). Each lands over HTTP with the file media type, with the stream media type
 * (the mislabel that used to be 400 "message 1 claims a metadata length of 1330795073 bytes",
 * the magic "ARRO" read as a length) and over WebSocket; DuckDB and polars read every object back.
 */

function frame () {
  const cat = (name: string, values: Array<string | null>) => pl.Series(name, values, pl.Utf8).cast(pl.Categorical)
  return pl.DataFrame({
    id: pl.Series('id', [1, 2, 3], pl.Int64),
    cat: cat('cat', ['red', null, 'blue']),
    st: pl.DataFrame({ c: cat('c', ['x', 'y', null]), n: pl.Series('n', [1, null, 3], pl.Int32) }).toStruct('st'),
    lc: pl.Series('lc', [['a', 'b'], null, []], pl.List(pl.Utf8)).cast(pl.List(pl.Categorical))
  })
}

const EXPECTED = [
  { id: '1', cat: 'red', st: "{'c': x, 'n': 1}", lc: '[a, b]' },
  { id: '2', cat: null, st: "{'c': y, 'n': NULL}", lc: null },
  { id: '3', cat: 'blue', st: "{'c': NULL, 'n': 3}", lc: '[]' }
]

async function duck (glob: string) {
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  try {
    const src = `read_parquet('${glob}', hive_partitioning = false)`
    const types = (await conn.runAndReadAll(`DESCRIBE SELECT id, cat, st, lc FROM ${src}`)).getRowObjectsJS().map((r) => `${String(r.column_name)} ${String(r.column_type)}`)
    const rows = (await conn.runAndReadAll(`SELECT id::VARCHAR AS id, cat, st::VARCHAR AS st, lc::VARCHAR AS lc FROM ${src} ORDER BY id`)).getRowObjectsJS()
    return { types, rows }
  } finally {
    conn.closeSync()
    db.closeSync()
  }
}

t.test('polars Categorical as an IPC file or stream, over HTTP (either media type) and WebSocket', async (t) => {
  const { app, dataDir } = await buildApp(t, { FLUSH_INTERVAL_MS: '50' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const token = localToken(dataDir, ['write', 'read', 'admin'])
  const file = frame().writeIPC()
  const stream = frame().writeIPCStream()
  t.equal(Buffer.from(file.subarray(0, 6)).toString(), 'ARROW1', 'writeIPC writes the file format')

  const post = async (topic: string, mediaType: string, body: Uint8Array) => {
    const res = await fetch(`http://${base}/v1/topics/${topic}/records`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': mediaType }, body: new Blob([body as Uint8Array<ArrayBuffer>]) })
    return { status: res.status, body: await res.json() }
  }
  const cases: Array<[string, string, Uint8Array]> = [
    ['file_as_file', 'application/vnd.apache.arrow.file', file],
    ['file_as_stream', 'application/vnd.apache.arrow.stream', file],
    ['stream_as_stream', 'application/vnd.apache.arrow.stream', stream]
  ]
  for (const [topic, mediaType, body] of cases) {
    t.same(await post(topic, mediaType, body), { status: 200, body: { topic, rows: 3, batches: 1, bytes: body.byteLength, ack: 'durable' } }, topic)
  }
  // into a topic that says string: the dictionaries decode into its plain columns
  const fields = [
    { name: 'id', type: 'int64', nullable: false }, { name: 'cat', type: 'string' },
    { name: 'st', type: 'struct<c: string, n: int64>' }, { name: 'lc', type: 'list<item: string>' }
  ]
  const created = await fetch(`http://${base}/v1/topics`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'existing', schema: { fields } }) })
  t.equal(created.status, 201)
  t.same(await post('existing', 'application/vnd.apache.arrow.stream', file), { status: 200, body: { topic: 'existing', rows: 3, batches: 1, bytes: file.byteLength, ack: 'durable' } })

  const ws = await connect(`ws://${base}/v1/topics/over_ws/stream`, ['quiver.v1'], { authorization: `Bearer ${token}` })
  const got = frames(ws)
  ws.send(file)
  ws.send(stream)
  t.same(await got.next(2), [{ type: 'ack', seq: 1, rows: 3 }, { type: 'ack', seq: 2, rows: 3 }])
  ws.close()

  for (const topic of ['file_as_file', 'file_as_stream', 'stream_as_stream', 'existing', 'over_ws']) {
    const dir = join(dataDir, topic)
    const parquet = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet'))
    t.ok(parquet.length >= 1, `${topic}: committed`)
    const d = await duck(join(dir, '**', '*.parquet'))
    t.same(d.types, ['id BIGINT', 'cat VARCHAR', `st STRUCT(c VARCHAR, n ${topic === 'existing' ? 'BIGINT' : 'INTEGER'})`, 'lc VARCHAR[]'], `${topic}: DuckDB types`)
    t.same(d.rows, topic === 'over_ws' ? EXPECTED.flatMap((r) => [r, r]) : EXPECTED, `${topic}: DuckDB values`)
    const p = pl.concat(parquet.map((f) => pl.readParquet(join(dir, f), { columns: ['id', 'cat', 'st', 'lc'] })), { how: 'vertical' }).sort('id')
    t.same(JSON.parse(JSON.stringify(p.toRecords())), (topic === 'over_ws' ? [1, 1, 2, 2, 3, 3] : [1, 2, 3]).map((id) => [
      { id: 1, cat: 'red', st: { c: 'x', n: 1 }, lc: ['a', 'b'] },
      { id: 2, cat: null, st: { c: 'y', n: null }, lc: null },
      { id: 3, cat: 'blue', st: { c: null, n: 3 }, lc: [] }
    ][id - 1]), `${topic}: polars values`)
  }
})
