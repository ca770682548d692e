import { test } from 'tap'
import { tableFromIPC } from 'apache-arrow'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { TEST_TOPIC_SCHEMA, makeIpcStream, makeNdjson } from '../helpers/arrow.ts'

async function setup (t: Parameters<typeof buildApp>[0], env: Record<string, string> = {}) {
  const built = await buildApp(t, env)
  const tok = {
    admin: localToken(built.dataDir, ['admin']),
    writer: localToken(built.dataDir, ['write']),
    reader: localToken(built.dataDir, ['read'])
  }
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, token: string | null, body?: unknown, headers: Record<string, string> = {}) =>
    built.app.inject({
      method,
      url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      ...(body === undefined ? {} : typeof body === 'string' || body instanceof Uint8Array ? { payload: Buffer.from(body as Uint8Array) } : { payload: body as object })
    })
  return { ...built, tok, call }
}

const fields = TEST_TOPIC_SCHEMA.fields

test('topic catalog: create, conflict, bad name/schema, list, get, delete, roles', async (t) => {
  const { call, tok } = await setup(t)
  const created = await call('POST', '/v1/topics', tok.admin, { name: 'orders', schema: { fields } })
  t.equal(created.statusCode, 201)
  const record = created.json()
  t.same(record, { name: 'orders', schema: { fields }, createdAt: record.createdAt })
  t.ok(Date.parse(record.createdAt) > 0)

  const dup = await call('POST', '/v1/topics', tok.admin, { name: 'orders', schema: { fields } })
  t.equal(dup.statusCode, 409)
  t.same(dup.json(), { statusCode: 409, code: 'QUIVER_TOPIC_EXISTS', error: 'Conflict', message: 'Topic "orders" already exists' })

  const badName = await call('POST', '/v1/topics', tok.admin, { name: 'Bad-Name', schema: { fields } })
  t.same(badName.json(), { statusCode: 400, code: 'QUIVER_INVALID_TOPIC_NAME', error: 'Bad Request', message: 'Invalid topic name "Bad-Name": expected ^[a-z][a-z0-9_]{0,62}$' })

  const badSchema = await call('POST', '/v1/topics', tok.admin, { name: 'x1', schema: { fields: [{ name: 'price', type: 'dubble', nullable: true }] } })
  t.equal(badSchema.statusCode, 400)
  t.equal(badSchema.json().code, 'QUIVER_INVALID_SCHEMA')
  t.match(badSchema.json().message, /^Invalid schema: field "price": /)

  const forbidden = await call('POST', '/v1/topics', tok.writer, { name: 'x2', schema: { fields } })
  t.same(forbidden.json(), { statusCode: 403, code: 'QUIVER_FORBIDDEN', error: 'Forbidden', message: 'This operation needs the admin role' })
  const anonymous = await call('GET', '/v1/topics', null)
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.headers['www-authenticate'], 'Bearer error="invalid_token"')

  await call('POST', '/v1/topics', tok.admin, { name: 'alpha', schema: { fields: [{ name: 'a', type: 'int32', nullable: false }] } })
  const list = await call('GET', '/v1/topics', tok.reader)
  t.same(list.json().topics.map((x: { name: string }) => x.name), ['alpha', 'orders'])

  const got = await call('GET', '/v1/topics/orders', tok.reader)
  t.same(got.json(), { ...record, schemaVersion: 1, evolution: 'additive', partitionBy: [], timePartition: { field: '__ingested_at', granularity: 'hour' }, stats: { rows: 0, bytes: 0, files: 0, lastFlushAt: null } })

  t.equal((await call('DELETE', '/v1/topics/orders', tok.reader)).statusCode, 403)
  const del = await call('DELETE', '/v1/topics/orders', tok.admin)
  t.equal(del.statusCode, 204)
  t.equal(del.body, '')
  const gone = await call('GET', '/v1/topics/orders', tok.reader)
  t.same(gone.json(), { statusCode: 404, code: 'QUIVER_TOPIC_NOT_FOUND', error: 'Not Found', message: 'Topic "orders" does not exist' })
  t.equal((await call('DELETE', '/v1/topics/orders', tok.admin)).statusCode, 404)
})

test('ingest, stats, files, read back as Arrow and NDJSON, admin flush and stats', async (t) => {
  const { call, tok } = await setup(t, { FLUSH_INTERVAL_MS: '300' })
  await call('POST', '/v1/topics', tok.admin, { name: 'orders', schema: { fields } })

  const ndjson = await call('POST', '/v1/topics/orders/records?ack=accepted', tok.writer, makeNdjson(30), { 'content-type': 'application/x-ndjson' })
  t.equal(ndjson.statusCode, 202)
  t.same(ndjson.json(), { topic: 'orders', rows: 30, batches: 1, bytes: Buffer.byteLength(makeNdjson(30)), ack: 'accepted' })

  const stats1 = (await call('GET', '/v1/admin/stats', tok.admin)).json()
  t.match(stats1, { bufferedBytes: Number, connections: { stream: 0, tail: 0 }, topics: { orders: { bufferedRows: 30, committedRows: 0, files: 0 } } })
  t.equal((await call('GET', '/v1/admin/stats', tok.writer)).statusCode, 403)

  const flushed = await call('POST', '/v1/admin/flush', tok.admin)
  t.same(flushed.json(), { flushed: 30 })

  const ipc = makeIpcStream(20, { start: 30 })
  const arrow = await call('POST', '/v1/topics/orders/records', tok.writer, ipc, { 'content-type': 'application/vnd.apache.arrow.stream' })
  t.equal(arrow.statusCode, 200)
  t.same(arrow.json(), { topic: 'orders', rows: 20, batches: 1, bytes: ipc.byteLength, ack: 'durable' })

  const files = (await call('GET', '/v1/topics/orders/files', tok.reader)).json().files
  t.equal(files.length, 2)
  t.same(files.map((f: { rows: number }) => f.rows), [30, 20])
  for (const f of files) t.match(f, { key: /^orders\/year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/[0-9A-Z]{26}\.parquet$/, bytes: Number, createdAt: String })

  const topic = (await call('GET', '/v1/topics/orders', tok.reader)).json()
  t.same(topic.stats, { rows: 50, bytes: files[0].bytes + files[1].bytes, files: 2, lastFlushAt: topic.stats.lastFlushAt })

  const back = await call('GET', '/v1/topics/orders/records?limit=45', tok.reader)
  t.equal(back.headers['content-type'], 'application/vnd.apache.arrow.stream')
  const table = tableFromIPC(back.rawPayload)
  t.equal(table.numRows, 45)
  t.same([...table.getChild('id')!].map(Number), Array.from({ length: 45 }, (_, i) => i))
  t.same(table.schema.fields.map((f) => f.name), ['id', 'name', 'price', 'ts', 'ok', '__ingested_at'])

  const lines = await call('GET', '/v1/topics/orders/records?limit=2', tok.reader, undefined, { accept: 'application/x-ndjson' })
  t.equal(lines.headers['content-type'], 'application/x-ndjson')
  const rows = lines.body.trim().split('\n').map((l) => JSON.parse(l))
  t.equal(rows.length, 2)
  t.match(rows[0], { id: 0, ts: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/, __ingested_at: /Z$/ })

  // from/to at µs, as __ingested_at is printed: they were cut to ms (Date.parse), so a bound 500 µs
  // after a row at ….744000 still took it as from and left it out as to.
  const at = String(rows[0].__ingested_at)
  const us = BigInt(Date.parse(at)) * 1000n + BigInt(at.slice(23, 26))
  const iso = (v: bigint) => new Date(Number(v / 1000n)).toISOString().slice(0, 23) + String(v % 1000n).padStart(3, '0') + 'Z'
  t.equal(iso(us), at, 'read back as printed')
  const count = async (query: string) => (await call('GET', `/v1/topics/orders/records?${query}`, tok.reader, undefined, { accept: 'application/x-ndjson' })).body.trim().split('\n').filter((l) => l !== '' && JSON.parse(l).__ingested_at === at).length
  const same = await count('limit=100000')
  t.ok(same >= 1)
  t.equal(await count(`from=${iso(us)}`), same, 'from is inclusive, to the µs')
  t.equal(await count(`from=${iso(us + 500n)}`), 0, 'from 500 µs later: excluded')
  t.equal(await count(`to=${iso(us + 500n)}`), same, 'to 500 µs later: included')
  t.equal(await count(`to=${iso(us)}`), 0, 'to is exclusive, to the µs')
  t.equal(await count(`to=${iso(us + 1n)}`), same)

  const future = await call('GET', '/v1/topics/orders/records?from=2999-01-01T00:00:00Z', tok.reader)
  t.equal(future.statusCode, 200, future.body.slice(0, 300))
  const empty = tableFromIPC(future.rawPayload)
  t.equal(empty.numRows, 0)
  t.equal(empty.schema.fields.length, 6, 'an empty answer still carries the schema')
})
