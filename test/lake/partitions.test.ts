import t from 'tap'
import { mkdirSync, writeFileSync, readdirSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { Bool, DateDay, Field, Float64, Int64, makeData, RecordBatch, Schema, Struct, TimeUnit, Timestamp, Utf8, tableToIPC, vectorFromArray, Table, tableFromIPC } from 'apache-arrow'
import { DuckDBInstance } from '@duckdb/node-api'
import pl from 'nodejs-polars'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { startS3rver } from '../helpers/s3rver.ts'
import { waitFor } from '../helpers/wait.ts'

type T = Parameters<typeof buildApp>[0] & { testdir: () => string }

const FIELDS = [
  { name: 'tenant', type: 'string', nullable: true },
  { name: 'n', type: 'int64', nullable: false },
  { name: 'ok', type: 'bool', nullable: true },
  { name: 'd', type: 'date32[day]', nullable: true },
  { name: 'ts', type: 'timestamp[us, tz=UTC]', nullable: false },
  { name: 'v', type: 'double', nullable: true }
]

interface Row { tenant: string | null, n: bigint, ok: boolean | null, d: number | null, ts: string, v: number | null }

const ROWS: Row[] = [
  { tenant: 'acme', n: 1n, ok: true, d: 20455, ts: '2026-01-02T03:04:05.000001Z', v: 1.5 },
  { tenant: 'a/b=c%', n: 2n, ok: false, d: null, ts: '2026-01-02T03:59:59.999999Z', v: null },
  { tenant: null, n: 3n, ok: null, d: 0, ts: '2026-01-02T04:00:00.000000Z', v: -2 },
  { tenant: '', n: 4n, ok: true, d: -1, ts: '2026-01-01T23:00:00.000000Z', v: 0 },
  { tenant: '東京 #1', n: 5n, ok: false, d: 20454, ts: '2026-01-02T03:00:00.000000Z', v: 1e300 },
  { tenant: 'acme', n: 6n, ok: true, d: 20455, ts: '2026-01-02T04:30:00.000000Z', v: 3.25 }
]

function ipc (rows: Row[]): Uint8Array {
  const s = new Schema([
    new Field('tenant', new Utf8(), true), new Field('n', new Int64(), false), new Field('ok', new Bool(), true),
    new Field('d', new DateDay(), true), new Field('ts', new Timestamp(TimeUnit.MICROSECOND, 'UTC'), false), new Field('v', new Float64(), true)
  ])
  const us = BigInt64Array.from(rows.map((r) => BigInt(Date.parse(r.ts.slice(0, 19) + 'Z')) * 1000n + BigInt(r.ts.slice(20, 26))))
  const children = [
    vectorFromArray(rows.map((r) => r.tenant), new Utf8()).data[0],
    vectorFromArray(rows.map((r) => r.n), new Int64()).data[0],
    vectorFromArray(rows.map((r) => r.ok), new Bool()).data[0],
    vectorFromArray(rows.map((r) => r.d === null ? null : new Date(r.d * 86_400_000)), new DateDay()).data[0],
    makeData({ type: new Timestamp(TimeUnit.MICROSECOND, 'UTC'), length: rows.length, nullCount: 0, data: us }),
    vectorFromArray(rows.map((r) => r.v), new Float64()).data[0]
  ]
  return tableToIPC(new Table(new RecordBatch(s, makeData({ type: new Struct(s.fields), length: rows.length, nullCount: 0, children }))), 'stream')
}

async function gateway (t: T, env: Record<string, string> = {}) {
  const built = await buildApp(t, env)
  const admin = localToken(built.dataDir, ['admin'])
  const call = (method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}) => built.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${admin}`, ...headers },
    ...(body === undefined ? {} : body instanceof Uint8Array ? { payload: Buffer.from(body) } : { payload: body as object })
  })
  const send = (topic: string, body: Uint8Array, query = '') => call('POST', `/v1/topics/${topic}/records${query}`, body, { 'content-type': 'application/vnd.apache.arrow.stream' })
  return { ...built, call, send }
}

/** Every stored object under `topic/`, copied into a local directory tree with the same keys. */
async function localCopy (t: T, keys: string[], get: (k: string) => Promise<Uint8Array>): Promise<string> {
  const dir = t.testdir()
  for (const k of keys) {
    mkdirSync(dirname(join(dir, k)), { recursive: true })
    writeFileSync(join(dir, k), await get(k))
  }
  return dir
}

async function duck (t: T, glob: string, sql: (src: string) => string, options = '') {
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  const src = `read_parquet('${glob}', hive_partitioning = true${options})`
  const types = Object.fromEntries((await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`)).getRowObjectsJS().map((d) => [d.column_name, d.column_type]))
  const rows = (await conn.runAndReadAll(sql(src))).getRowObjectsJS()
  return { types, rows }
}

for (const storage of ['fs', 's3'] as const) {
  t.test(`${storage}: event-time hours, string partition with escaping and nulls, read back with DuckDB and polars`, async (t) => {
    const s3 = storage === 's3' ? await startS3rver(t) : null
    const g = await gateway(t, s3 ? { ...s3.env, S3_PREFIX: 'lake/' } : {})
    const created = await g.call('POST', '/v1/topics', { name: 'ev', schema: { fields: FIELDS }, partitionBy: ['tenant'], timePartition: { field: 'ts', granularity: 'hour' } })
    t.equal(created.statusCode, 201, created.body)
    t.same(created.json().partitionBy, ['tenant'])
    const got = (await g.call('GET', '/v1/topics/ev')).json()
    t.same([got.partitionBy, got.timePartition], [['tenant'], { field: 'ts', granularity: 'hour' }])

    const res = await g.send('ev', ipc(ROWS))
    t.equal(res.statusCode, 200, res.body)
    t.same(res.json(), { topic: 'ev', rows: 6, batches: 1, bytes: res.json().bytes, ack: 'durable' })

    const files = (await g.call('GET', '/v1/topics/ev/files')).json().files as Array<{ key: string, rows: number }>
    const dirs = files.map((f) => f.key.replace(/\/[0-9A-Z]{26}\.parquet$/, '')).sort()
    t.same(dirs, [
      'ev/tenant=__HIVE_DEFAULT_PARTITION__/year=2026/month=01/day=01/hour=23',
      'ev/tenant=__HIVE_DEFAULT_PARTITION__/year=2026/month=01/day=02/hour=04',
      'ev/tenant=a%2Fb%3Dc%25/year=2026/month=01/day=02/hour=03',
      'ev/tenant=acme/year=2026/month=01/day=02/hour=03',
      'ev/tenant=acme/year=2026/month=01/day=02/hour=04',
      'ev/tenant=東京 %231/year=2026/month=01/day=02/hour=03'
    ], 'one object per partition, keys escaped as Hive does')
    t.equal(files.reduce((n, f) => n + f.rows, 0), 6)

    // key-based filters
    const acme = (await g.call('GET', '/v1/topics/ev/files?tenant=acme')).json().files as Array<{ key: string }>
    t.same(acme.map((f) => f.key.split('/')[1]), ['tenant=acme', 'tenant=acme'])
    const nulls = (await g.call('GET', '/v1/topics/ev/files?tenant=')).json().files as Array<{ key: string }>
    t.equal(nulls.length, 2, '?tenant= selects the default partition')
    t.equal((await g.call('GET', '/v1/topics/ev/files?tenant=acme&hour=4')).json().files.length, 1)
    const deep = (await g.call('GET', '/v1/topics/ev/files?partitions%5Btenant%5D=acme&partitions%5Bhour%5D=4')).json().files as Array<{ key: string }>
    t.same(deep.map((f) => f.key.split('/').slice(1, -1).join('/')), ['tenant=acme/year=2026/month=01/day=02/hour=04'], 'the same filters as the deepObject openapi-fetch sends by default')
    const limit = await g.call('GET', '/v1/topics/ev/files?limit=1')
    t.same([limit.statusCode, limit.json().message], [400, '"limit" is not a partition of topic "ev" (filters: tenant, year, month, day, hour; time is ts)'], '/files has no limit: said, not ignored')
    const deepBad = await g.call('GET', '/v1/topics/ev/files?partitions%5Bregion%5D=eu')
    t.equal(deepBad.json().message, '"region" is not a partition of topic "ev" (filters: tenant, year, month, day, hour; time is ts)')
    const bad = await g.call('GET', '/v1/topics/ev/files?region=eu')
    t.same(bad.json(), { statusCode: 400, code: 'QUIVER_VALIDATION', error: 'Bad Request', message: '"region" is not a partition of topic "ev" (filters: tenant, year, month, day, hour; time is ts)' })
    const read = await g.call('GET', '/v1/topics/ev/records?tenant=a/b%3Dc%25', undefined, { accept: 'application/x-ndjson' })
    t.same(read.body.trim().split('\n').map((l) => JSON.parse(l).n), [2])
    const readAll = tableFromIPC(Buffer.from(read.rawPayload.length ? (await g.call('GET', '/v1/topics/ev/records?from=2020-01-01T00:00:00Z')).rawPayload : []))
    t.equal(readAll.numRows, 6, 'event-time keys are not pruned by arrival time')

    const keys = s3 ? (await s3.listKeys('lake/ev/')).map((k) => k.slice('lake/'.length)) : files.map((f) => f.key)
    const root = s3 ? await localCopy(t, keys, (k) => s3.getObject('lake/' + k)) : g.dataDir
    t.ok(s3 === null || keys.every((k) => k.endsWith('.parquet')), 'nothing but committed objects under the topic prefix')
    const { types, rows } = await duck(t, join(root, 'ev/**/*.parquet'), (src) =>
      `SELECT tenant, n::VARCHAR AS n, ok, d::VARCHAR AS d, strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ') AS ts, v, year, month, day, hour FROM ${src} ORDER BY n`)
    t.match(types, { tenant: 'VARCHAR', n: 'BIGINT', ok: 'BOOLEAN', d: 'DATE', ts: 'TIMESTAMP WITH TIME ZONE', v: 'DOUBLE', __ingested_at: 'TIMESTAMP WITH TIME ZONE', year: 'BIGINT', month: 'VARCHAR', day: 'VARCHAR', hour: 'VARCHAR' }, 'DuckDB keeps zero-padded time directories as text')
    const day = (d: number | null) => d === null ? null : new Date(d * 86_400_000).toISOString().slice(0, 10)
    t.same(rows, ROWS.map((r) => {
      const ts = new Date(Date.parse(r.ts))
      return {
        tenant: r.tenant === '' ? null : r.tenant, // Hive reads the default partition back as null
        n: String(r.n),
        ok: r.ok,
        d: day(r.d),
        ts: r.ts,
        v: r.v,
        year: ts.getUTCFullYear(),
        month: ts.getUTCMonth() + 1,
        day: ts.getUTCDate(),
        hour: ts.getUTCHours()
      }
    }).sort((a, b) => Number(a.n) - Number(b.n)).map((r) => ({ ...r, year: BigInt(r.year), month: BigInt(r.month), day: BigInt(r.day), hour: BigInt(r.hour) })))

    const df = await pl.scanParquet(join(root, 'ev/**/*.parquet'), { hivePartitioning: true }).sort('n').collect()
    const dtypes = Object.fromEntries(df.columns.map((c, i) => [c, String(df.dtypes[i])]))
    t.match(dtypes, { tenant: /String|Utf8/, n: 'Int64', ok: 'Bool', d: 'Date', v: 'Float64', year: 'Int64', hour: 'Int64' })
    t.match(dtypes.ts, /Datetime/)
    t.same(df.getColumn('tenant').toArray(), ['acme', 'a/b=c%', null, null, '東京 #1', 'acme'])
    t.same(df.getColumn('n').toArray().map(Number), [1, 2, 3, 4, 5, 6])
    t.same(df.getColumn('v').toArray(), [1.5, null, -2, 0, 1e300, 3.25])
    t.same(df.getColumn('hour').toArray().map(Number), [3, 3, 4, 23, 3, 4])
  })
}

t.test('integer/bool/date partitions with day buckets; the partition bound; staged large requests', async (t) => {
  const g = await gateway(t, { MAX_PARTITIONS_PER_FLUSH: '3', FLUSH_INTERVAL_MS: '60000', FLUSH_MAX_BYTES: '65536' })
  t.equal((await g.call('POST', '/v1/topics', { name: 'days', schema: { fields: FIELDS }, partitionBy: ['ok', 'd'], timePartition: { field: 'ts', granularity: 'day' } })).statusCode, 201)
  const four = ROWS.slice(0, 4)
  const tooMany = await g.send('days', ipc(four))
  t.same(tooMany.json(), { statusCode: 422, code: 'QUIVER_TOO_MANY_PARTITIONS', error: 'Unprocessable Entity', message: 'The request feeds more than 3 partitions; at most 3 per flush (MAX_PARTITIONS_PER_FLUSH)' })
  t.equal((await g.call('POST', '/v1/admin/flush')).json().flushed, 0, 'nothing of it was buffered')
  t.same(readdirSync(g.dataDir).filter((f) => f === 'days'), [], 'nothing stored')

  // A (2 partitions) waits for its 60 s window; B (2 others) does not fit beside it: A is flushed first.
  t.equal((await g.send('days', ipc([ROWS[0], ROWS[5]]), '?ack=accepted')).statusCode, 202)
  t.equal((await g.send('days', ipc([ROWS[1], ROWS[2], ROWS[3]]), '?ack=accepted')).statusCode, 202)
  const listed = async () => ((await g.call('GET', '/v1/topics/days/files')).json().files as Array<{ key: string }>).map((f) => f.key.replace(/\/[0-9A-Z]{26}\.parquet$/, ''))
  let first: string[] = []
  await waitFor(async () => (first = await listed()).length > 0, 'the first flush (A, pushed out by B)')
  t.same(first, ['days/ok=true/d=2026-01-02/year=2026/month=01/day=02'], 'A was flushed when B arrived (rows 1 and 6 share one object)')
  t.equal((await g.call('POST', '/v1/admin/flush')).statusCode, 200)
  t.same((await listed()).sort(), [
    'days/ok=__HIVE_DEFAULT_PARTITION__/d=1970-01-01/year=2026/month=01/day=02',
    'days/ok=false/d=__HIVE_DEFAULT_PARTITION__/year=2026/month=01/day=02',
    'days/ok=true/d=1969-12-31/year=2026/month=01/day=01',
    'days/ok=true/d=2026-01-02/year=2026/month=01/day=02'
  ])

  // A body above the staging threshold (64 KiB here) to a partitioned topic is split the same way.
  const big: Row[] = Array.from({ length: 6000 }, (_, i) => ({ ...ROWS[i % 3], n: BigInt(1000 + i), ts: ROWS[i % 3].ts }))
  const body = ipc(big)
  t.ok(body.byteLength > 65536)
  const staged = await g.send('days', body)
  t.equal(staged.statusCode, 200, staged.body)
  const files = (await g.call('GET', '/v1/topics/days/files')).json().files as Array<{ key: string, rows: number }>
  const per = new Map<string, number>()
  for (const f of files) { const k = f.key.replace(/\/[0-9A-Z]{26}\.parquet$/, ''); per.set(k, (per.get(k) ?? 0) + f.rows) }
  t.same(Object.fromEntries(per), {
    'days/ok=__HIVE_DEFAULT_PARTITION__/d=1970-01-01/year=2026/month=01/day=02': 2001,
    'days/ok=false/d=__HIVE_DEFAULT_PARTITION__/year=2026/month=01/day=02': 2001,
    'days/ok=true/d=1969-12-31/year=2026/month=01/day=01': 1,
    'days/ok=true/d=2026-01-02/year=2026/month=01/day=02': 2002
  })
  // DuckDB's hive values replace the stored columns and are typed by inference (bools stay text);
  // hive_types gives them the topic's types back.
  const { types, rows } = await duck(t, join(g.dataDir, 'days/**/*.parquet'), (src) => `SELECT ok, d::VARCHAR AS d, count(*)::INT AS c, min(n)::INT AS lo FROM ${src} GROUP BY ALL ORDER BY lo`, ", hive_types = {'ok': 'BOOLEAN', 'd': 'DATE'}")
  t.match(types, { ok: 'BOOLEAN', d: 'DATE', n: 'BIGINT', year: 'BIGINT', day: 'VARCHAR' })
  t.same(rows, [
    { ok: true, d: '2026-01-02', c: 2002, lo: 1 },
    { ok: false, d: null, c: 2001, lo: 2 },
    { ok: null, d: '1970-01-01', c: 2001, lo: 3 },
    { ok: true, d: '1969-12-31', c: 1, lo: 4 }
  ])
})

t.test('topic create: bad partition specs answer 400 QUIVER_INVALID_PARTITION', async (t) => {
  const g = await gateway(t)
  const cases: Array<[unknown, unknown, string]> = [
    [['v'], undefined, 'partitionBy field "v" has type double; only top-level string, integer, bool or date32 fields partition'],
    [['nope'], undefined, 'partitionBy field "nope" is not a field of the topic'],
    [undefined, { field: 'tenant', granularity: 'day' }, 'timePartition field "tenant" has type string; it must be a timestamp']
  ]
  for (const [partitionBy, timePartition, message] of cases) {
    const r = await g.call('POST', '/v1/topics', { name: 'bad', schema: { fields: FIELDS }, partitionBy, timePartition })
    t.same(r.json(), { statusCode: 400, code: 'QUIVER_INVALID_PARTITION', error: 'Bad Request', message: `Invalid partition spec: ${message}` })
  }
  const week = await g.call('POST', '/v1/topics', { name: 'bad', schema: { fields: FIELDS }, timePartition: { field: 'ts', granularity: 'week' } })
  t.match(week.json(), { statusCode: 400, code: 'QUIVER_INVALID_PARTITION', message: /^Invalid partition spec: timePartition\/granularity must/ })
  const nullableTs = await g.call('POST', '/v1/topics', { name: 'bad', schema: { fields: [{ name: 'ts', type: 'timestamp[ms]', nullable: true }] }, timePartition: { field: 'ts', granularity: 'day' } })
  t.equal(nullableTs.json().message, 'Invalid partition spec: timePartition field "ts" must be declared "nullable": false (every row needs a time bucket)')
  t.equal((await g.call('GET', '/v1/topics/bad')).statusCode, 404, 'nothing created')
})

t.test('a partition named like a read parameter (from, to, limit) is filtered as partitions[from]=…', async (t) => {
  const g = await gateway(t)
  const fields = [{ name: 'from', type: 'string', nullable: true }, { name: 'n', type: 'int64', nullable: false }]
  t.equal((await g.call('POST', '/v1/topics', { name: 'mail', schema: { fields }, partitionBy: ['from'] })).statusCode, 201)
  const sent = await g.call('POST', '/v1/topics/mail/records', '{"from":"ann","n":1}\n{"from":"bob","n":2}\n{"from":"ann","n":3}\n', { 'content-type': 'application/x-ndjson' })
  t.equal(sent.statusCode, 200, sent.body)
  const read = (query: string) => g.call('GET', `/v1/topics/mail/records${query}`, undefined, { accept: 'application/x-ndjson' })
  const ann = await read('?partitions%5Bfrom%5D=ann')
  t.same(ann.body.trim().split('\n').map((l) => JSON.parse(l).n).sort(), [1, 3])
  const files = (await g.call('GET', '/v1/topics/mail/files?from=bob')).json().files as Array<{ key: string }>
  t.same(files.map((f) => f.key.split('/')[1]), ['from=bob'], '/files has no from of its own: from is the partition')
  const asTime = await read('?from=ann')
  t.same([asTime.statusCode, asTime.json().message], [400, 'querystring/from must match format "date-time"'], 'on /records, from is the time bound')
})

t.test('an integer partition is filtered by value: ?n=007 and ?n=+7 select n=7 (they were compared as text and selected nothing)', async (t) => {
  const g = await gateway(t)
  const fields = [{ name: 'n', type: 'int32', nullable: true }, { name: 's', type: 'string', nullable: true }]
  t.equal((await g.call('POST', '/v1/topics', { name: 'nums', schema: { fields }, partitionBy: ['n'] })).statusCode, 201)
  const sent = await g.call('POST', '/v1/topics/nums/records', '{"n":7,"s":"seven"}\n{"n":-3,"s":"minus three"}\n{"n":null,"s":"none"}\n', { 'content-type': 'application/x-ndjson' })
  t.equal(sent.statusCode, 200, sent.body)
  const read = async (query: string) => (await g.call('GET', `/v1/topics/nums/records?${query}`, undefined, { accept: 'application/x-ndjson' })).body.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l).s)
  t.same(await read('n=007'), ['seven'])
  t.same(await read('n=%2B7'), ['seven'])
  t.same(await read('n=-03'), ['minus three'])
  t.same(await read('n='), ['none'], 'empty still selects the null partition')
  const bad = await g.call('GET', '/v1/topics/nums/files?n=seven')
  t.same([bad.statusCode, bad.json().message], [400, 'partition filter n must be an integer'])
})
