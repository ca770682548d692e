import { test } from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { makeIpcStream, TEST_BASE_TS_US } from '../helpers/arrow.ts'
import { startS3rver } from '../helpers/s3rver.ts'
import { startFaultProxy } from '../helpers/fault-proxy.ts'
import { curl, duckdbSummary, listeningApp, parquetTable, TEST_DUCKDB_TYPES } from './ingest-helpers.ts'

async function keys (client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))
  return (out.Contents ?? []).map((o) => o.Key!).sort()
}

async function getObject (client: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return out.Body!.transformToByteArray()
}

// The SDK's default credential chain reads the process environment, not the app's config.
process.env.AWS_ACCESS_KEY_ID = 'S3RVER'
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER'

const HIVE_S3_KEY = /^pfx\/events\/year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/[0-9A-HJKMNP-TV-Z]{26}\.parquet$/

test('curl → 200 → the object is already in S3 under S3_PREFIX, Hive layout, readable by parquet-wasm and DuckDB', async (t) => {
  const s3 = await startS3rver(t)
  const { base, writer } = await listeningApp(t, { ...s3.env, S3_PREFIX: 'pfx/' })
  const file = join(t.testdir(), 'rows.arrows')
  writeFileSync(file, makeIpcStream(5000, { batchRows: 1000 }))
  const res = await curl([`${base}/v1/topics/events/records`, '--data-binary', `@${file}`,
    '-H', 'Content-Type: application/vnd.apache.arrow.stream', '-H', `Authorization: Bearer ${writer}`])
  t.equal(res.status, 200, res.body)
  t.match(JSON.parse(res.body), { topic: 'events', rows: 5000, batches: 5, ack: 'durable' })

  const listed = await keys(s3.client, s3.bucket, 'pfx/events/')
  t.equal(listed.length, 1)
  t.match(listed[0], HIVE_S3_KEY)
  t.same(await keys(s3.client, s3.bucket, 'pfx/_catalog/'), ['pfx/_catalog/events.json'], 'catalog in the same bucket')
  const bytes = await getObject(s3.client, s3.bucket, listed[0])
  const table = parquetTable(bytes)
  t.equal(table.numRows, 5000)
  t.equal(String(table.schema.fields.at(-1)!.type), 'Timestamp<MICROSECOND, UTC>')

  const { types, agg } = await duckdbSummary(t, [bytes])
  t.same(types, TEST_DUCKDB_TYPES)
  t.same({ n: agg.n, ids: agg.ids, oks: agg.oks, t0: agg.t0, t1: agg.t1 }, {
    n: '5000', ids: String(4999 * 5000 / 2), oks: '2500', t0: String(TEST_BASE_TS_US), t1: String(TEST_BASE_TS_US + 4999_000_000n)
  })
})

test('storage failing → 503 QUIVER_STORAGE_UNAVAILABLE with Retry-After and nothing stored; recovery → 200', async (t) => {
  const s3 = await startS3rver(t)
  const proxy = await startFaultProxy(t, s3.endpoint)
  const { base, writer } = await listeningApp(t, { ...s3.env, S3_ENDPOINT: proxy.url })
  const post = (start: number) => fetch(`${base}/v1/topics/events/records`, {
    method: 'POST',
    headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' },
    body: Buffer.from(makeIpcStream(100, { start }))
  })
  t.equal((await post(0)).status, 200, 'works through the proxy')
  t.equal((await keys(s3.client, s3.bucket, 'events/')).length, 1)

  proxy.mode('refuse')
  const failed = await post(100)
  t.equal(failed.status, 503)
  t.equal(failed.headers.get('retry-after'), '2')
  t.same(await failed.json(), {
    statusCode: 503,
    code: 'QUIVER_STORAGE_UNAVAILABLE',
    error: 'Service Unavailable',
    message: 'Storage is failing; the data was not committed, retry shortly'
  })

  proxy.mode('pass')
  t.equal((await keys(s3.client, s3.bucket, 'events/')).length, 1, 'the failed request left no object')
  const ok = await post(200)
  t.equal(ok.status, 200)
  const listed = await keys(s3.client, s3.bucket, 'events/')
  t.equal(listed.length, 2)
  const ids = (await Promise.all(listed.map((k) => getObject(s3.client, s3.bucket, k))))
    .flatMap((b) => [...parquetTable(b).getChild('id')!].map(Number)).sort((a, b) => a - b)
  t.same(ids, [...Array.from({ length: 100 }, (_, i) => i), ...Array.from({ length: 100 }, (_, i) => 200 + i)], 'rows of the failed request never stored')
})

test('first writes racing to auto-create a topic on S3 all land: the losers wait for the winner\'s record', async (t) => {
  const s3 = await startS3rver(t)
  const { base, writer } = await listeningApp(t, s3.env)
  const post = (start: number) => fetch(`${base}/v1/topics/racy/records`, {
    method: 'POST',
    headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' },
    body: Buffer.from(makeIpcStream(250, { start }))
  })
  const answers = await Promise.all([0, 250, 500, 750].map(post))
  t.same(answers.map((r) => r.status), [200, 200, 200, 200])
  t.same((await s3.listKeys('_catalog/r')), ['_catalog/racy.json'], 'one catalog record')
  const objects = await s3.listKeys('racy/')
  let rows = 0
  for (const key of objects) rows += parquetTable(await s3.getObject(key)).numRows
  t.equal(rows, 1000, 'every row of the four writers stored once')
})
