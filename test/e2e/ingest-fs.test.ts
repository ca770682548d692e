import { test } from 'tap'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { makeIpcStream, makeNdjson, TEST_BASE_TS_MS, TEST_BASE_TS_US, TEST_TOPIC_SCHEMA } from '../helpers/arrow.ts'
import { startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { curl, duckdbSummary, HIVE_KEY, listeningApp, parquetTable, TEST_DUCKDB_TYPES } from './ingest-helpers.ts'

/** Relative keys of the committed objects of `events` in a DATA_DIR. */
function objectKeys (dataDir: string): string[] {
  try {
    return readdirSync(join(dataDir, 'events'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.parquet')).map((f) => `events/${f.split('\\').join('/')}`).sort()
  } catch { return [] }
}
const storedRows = (dataDir: string) => objectKeys(dataDir).reduce((n, k) => n + parquetTable(readFileSync(join(dataDir, k))).numRows, 0)

test('curl an Arrow stream → 200 → the Parquet object is already on disk, readable by parquet-wasm and DuckDB', async (t) => {
  const { base, writer, dataDir } = await listeningApp(t)
  const file = join(t.testdir(), 'batch.arrows')
  writeFileSync(file, makeIpcStream(1000))
  const before = Date.now()
  const res = await curl([`${base}/v1/topics/events/records`, '--data-binary', `@${file}`,
    '-H', 'Content-Type: application/vnd.apache.arrow.stream', '-H', `Authorization: Bearer ${writer}`])
  t.equal(res.status, 200, res.body)
  t.same(JSON.parse(res.body), { topic: 'events', rows: 1000, batches: 1, bytes: readFileSync(file).byteLength, ack: 'durable' })

  const keys = objectKeys(dataDir)
  t.equal(keys.length, 1, 'committed before the answer')
  const m = HIVE_KEY.exec(keys[0])!
  t.ok(m, keys[0])
  const now = new Date()
  t.same(m.slice(1, 5), [String(now.getUTCFullYear()), String(now.getUTCMonth() + 1).padStart(2, '0'), String(now.getUTCDate()).padStart(2, '0'), String(now.getUTCHours()).padStart(2, '0')])

  const bytes = readFileSync(join(dataDir, keys[0]))
  const table = parquetTable(bytes)
  t.equal(table.numRows, 1000)
  t.same(table.schema.fields.map((f) => [f.name, String(f.type)]), [
    ['id', 'Int64'], ['name', 'Utf8'], ['price', 'Float64'], ['ts', 'Timestamp<MICROSECOND, UTC>'], ['ok', 'Bool'], ['__ingested_at', 'Timestamp<MICROSECOND, UTC>']
  ])
  t.same(table.get(7)!.toJSON(), { id: 7n, name: 'name-7', price: 10.5, ts: TEST_BASE_TS_MS + 7000, ok: false, __ingested_at: table.get(0)!.toJSON().__ingested_at })

  const { types, agg } = await duckdbSummary(t, [bytes])
  t.same(types, TEST_DUCKDB_TYPES)
  t.same({ ...agg, i0: undefined, i1: undefined }, {
    n: '1000',
    ids: String(999 * 1000 / 2),
    prices: 1.5 * 999 * 1000 / 2,
    oks: '500',
    t0: String(TEST_BASE_TS_US),
    t1: String(TEST_BASE_TS_US + 999_000_000n),
    i0: undefined,
    i1: undefined
  })
  t.equal(agg.i0, agg.i1, 'one __ingested_at for one request')
  t.ok(Number(agg.i0) >= before - 5 && Number(agg.i0) <= Date.now(), '__ingested_at is the time of ingestion')
})

test('40 concurrent writers in one flush window → at most 2 objects, exact row total', async (t) => {
  const { base, writer, dataDir } = await listeningApp(t, { FLUSH_INTERVAL_MS: '1500' })
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => fetch(`${base}/v1/topics/events/records`, {
    method: 'POST',
    headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' },
    body: Buffer.from(makeIpcStream(250, { start: i * 250 }))
  }).then(async (r) => [r.status, (await r.json()).rows])))
  t.same(results, Array.from({ length: 40 }, () => [200, 250]))
  const keys = objectKeys(dataDir)
  t.ok(keys.length >= 1 && keys.length <= 2, `${keys.length} objects`)
  const ids = keys.flatMap((k) => [...parquetTable(readFileSync(join(dataDir, k))).getChild('id')!].map(Number)).sort((a, b) => a - b)
  t.same(ids, Array.from({ length: 10_000 }, (_, i) => i), 'every row exactly once')
})

test('every bad input gets its status and body and commits nothing', async (t) => {
  const { base, writer, dataDir } = await listeningApp(t, { MAX_REQUEST_BYTES: '65536' })
  const dir = t.testdir()
  const good = makeIpcStream(300)
  const absurd = Buffer.alloc(16)
  absurd.writeUInt32LE(0xffffffff, 0)
  absurd.writeInt32LE(0x7ffffff0, 4)
  const other = makeIpcStream([{ id: 1, extra: 'x' }], [{ name: 'id', type: 'int32', nullable: false }, { name: 'extra', type: 'string', nullable: true }])
  const big = makeNdjson(2000)
  const cases: Array<[string, string | Uint8Array, string, number, string, RegExp | string]> = [
    ['garbage', 'this is not arrow at all, just text', 'application/vnd.apache.arrow.stream', 400, 'QUIVER_INVALID_ARROW', /^Invalid Arrow IPC data: /],
    ['truncated stream', good.subarray(0, Math.floor(good.byteLength * 0.7)), 'application/vnd.apache.arrow.stream', 400, 'QUIVER_INVALID_ARROW', /^Invalid Arrow IPC data: /],
    ['absurd length prefix', absurd, 'application/vnd.apache.arrow.stream', 400, 'QUIVER_INVALID_ARROW', /^Invalid Arrow IPC data: /],
    ['schema mismatch', other, 'application/vnd.apache.arrow.stream', 422, 'QUIVER_SCHEMA_MISMATCH', 'Schema does not match the topic: missing fields: ts (not null in the topic); unexpected fields: extra'],
    ['wrong content type', 'id,name\n1,a\n', 'text/csv', 415, 'QUIVER_UNSUPPORTED_MEDIA_TYPE', 'Unsupported content type "text/csv"; use application/vnd.apache.arrow.stream, application/vnd.apache.arrow.file, application/x-ndjson or application/json'],
    ['bad NDJSON', makeNdjson(2) + '{"id": 3, oops\n', 'application/x-ndjson', 400, 'QUIVER_INVALID_JSON', /^Invalid JSON data: line 3: /],
    ['over-size body', big, 'application/x-ndjson', 413, 'QUIVER_PAYLOAD_TOO_LARGE', 'Request body exceeds 65536 bytes']
  ]
  const errorNames: Record<number, string> = { 400: 'Bad Request', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Entity' }
  for (const [name, body, type, status, code, message] of cases) {
    const file = join(dir, name.replace(/ /g, '-'))
    writeFileSync(file, body)
    const res = await curl([`${base}/v1/topics/events/records`, '--data-binary', `@${file}`, '-H', `Content-Type: ${type}`, '-H', `Authorization: Bearer ${writer}`])
    t.equal(res.status, status, `${name}: status`)
    const json = JSON.parse(res.body)
    t.same(Object.keys(json), ['statusCode', 'code', 'error', 'message'], `${name}: error shape`)
    t.match(json, { statusCode: status, code, error: errorNames[status] }, `${name}: body`)
    if (typeof message === 'string') t.equal(json.message, message, `${name}: message`)
    else t.match(json.message, message, `${name}: message`)
  }
  const unknown = await curl([`${base}/v1/topics/nosuch/records`, '--data-binary', '{"id":1}', '-H', 'Content-Type: application/x-ndjson', '-H', `Authorization: Bearer ${writer}`])
  t.same([unknown.status, JSON.parse(unknown.body)], [404, { statusCode: 404, code: 'QUIVER_TOPIC_NOT_FOUND', error: 'Not Found', message: 'Topic "nosuch" does not exist' }])
  // Whatever a failed request might have left buffered is written now, not after a guessed wait.
  const flushed = await fetch(`${base}/v1/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${localToken(dataDir, ['admin'])}` } })
  t.equal(flushed.status, 200)
  t.equal(storedRows(dataDir), 0, 'no row of any failed request was stored')
  t.same(objectKeys(dataDir), [])
})

test('SIGTERM with buffered ack=accepted rows → rows on storage, exit 0', async (t) => {
  const gw = await startGateway(t, { FLUSH_INTERVAL_MS: '600000', AUTH_PROVIDERS: 'local' })
  const admin = localToken(gw.dataDir, ['admin'])
  const created = await fetch(`${gw.url}/v1/topics`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'events', schema: TEST_TOPIC_SCHEMA }) })
  t.equal(created.status, 201)
  const res = await fetch(`${gw.url}/v1/topics/events/records?ack=accepted`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/x-ndjson' }, body: makeNdjson(123) })
  t.equal(res.status, 202)
  t.same(objectKeys(gw.dataDir), [], 'still buffered')
  gw.kill('SIGTERM')
  t.equal(await gw.exited, 0)
  t.equal(storedRows(gw.dataDir), 123)
})

test('curl --compressed-style bodies: Content-Encoding gzip is 415 naming it, nothing stored (it was read raw and refused as invalid JSON)', async (t) => {
  const gw = await listeningApp(t)
  const file = join(t.testdir(), 'rows.ndjson.gz')
  writeFileSync(file, gzipSync(makeNdjson(10)))
  const res = await curl(['-X', 'POST', `${gw.base}/v1/topics/events/records`, '-H', `Authorization: Bearer ${gw.writer}`, '-H', 'Content-Type: application/x-ndjson', '-H', 'Content-Encoding: gzip', '--data-binary', `@${file}`])
  t.same([res.status, JSON.parse(res.body)], [415, {
    statusCode: 415,
    code: 'QUIVER_UNSUPPORTED_MEDIA_TYPE',
    error: 'Unsupported Media Type',
    message: 'Content-Encoding "gzip" is not supported; send the body uncompressed (objects are compressed on their way to storage)'
  }])
  const flushed = await fetch(`${gw.base}/v1/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${gw.admin}` } })
  t.equal(flushed.status, 200)
  const files = await (await fetch(`${gw.base}/v1/topics/events/files`, { headers: { authorization: `Bearer ${gw.admin}` } })).json() as { files: unknown[] }
  t.same(files.files, [], 'nothing stored')
  const plain = await curl(['-X', 'POST', `${gw.base}/v1/topics/events/records`, '-H', `Authorization: Bearer ${gw.writer}`, '-H', 'Content-Type: application/x-ndjson', '-H', 'Content-Encoding: identity', '--data-binary', makeNdjson(10)])
  t.equal(plain.status, 200, 'identity is no encoding')
})
