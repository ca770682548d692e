import t, { type Test } from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow'
import { Table, writeParquet } from 'parquet-wasm'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { startS3rver } from '../helpers/s3rver.ts'
import { localToken } from '../helpers/local-auth.ts'

// Another system's Parquet: valid, readable, but not written by Quiver for the topic.
const payroll = writeParquet(Table.fromIPCStream(tableToIPC(tableFromArrays({ name: ['alice', 'bob'], salary: Float64Array.from([1e5, 2e5]) }), 'stream')))
const hour = 'year=2026/month=01/day=02/hour=03'
const FOREIGN = {
  'othersys/exports/payroll.parquet': payroll,
  // Quiver's key layout, another system's footer: the footer check catches it.
  [`othersys/${hour}/01KZZZZZZZZZZZZZZZZZZZZZZZ.parquet`]: payroll,
  'othersys/payroll.parquet': payroll
}
const EMPTY = `othersys/${hour}/01AAAAAAAAAAAAAAAAAAAAAAAA.parquet`
const GARBAGE = `othersys/${hour}/01BBBBBBBBBBBBBBBBBBBBBBBB.parquet`
const BAD = {
  [EMPTY]: new Uint8Array(0),
  [GARBAGE]: new TextEncoder().encode('PAR1 this is not a parquet footer at all PAR1')
}

async function exercise (t: Test, gw: Gateway, place: (key: string, body: Uint8Array) => Promise<void>) {
  const admin = localToken(gw.dataDir, ['admin'])
  const call = async (path: string, init: RequestInit = {}) => await fetch(`${gw.url}${path}`, { ...init, headers: { authorization: `Bearer ${admin}`, ...(init.headers ?? {}) } })
  const created = await call('/v1/topics', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'othersys', schema: { fields: [{ name: 'v', type: 'int64', nullable: false }] } }) })
  t.equal(created.status, 201)
  const ingest = await call('/v1/topics/othersys/records', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"v":1}\n{"v":2}\n{"v":3}\n' })
  t.equal(ingest.status, 200)
  for (const [k, v] of Object.entries({ ...FOREIGN, ...BAD })) await place(k, v)

  const files = (await (await call('/v1/topics/othersys/files')).json() as { files: Array<{ key: string, rows: number, corrupt?: boolean }> }).files
  const ours = files.filter((f) => !f.corrupt)
  t.equal(ours.length, 1, 'the one object Quiver committed')
  t.match(ours[0], { rows: 3 })
  t.same(files.filter((f) => f.corrupt).map((f) => [f.key, f.rows]).sort(), [[EMPTY, 0], [GARBAGE, 0]], 'unreadable objects are flagged, not hidden')
  for (const k of Object.keys(FOREIGN)) t.notOk(files.some((f) => f.key === k), `${k} is never listed`)

  const ndjson = await call('/v1/topics/othersys/records', { headers: { accept: 'application/x-ndjson' } })
  t.equal(ndjson.status, 200)
  t.same((await ndjson.text()).trim().split('\n').map((l) => JSON.parse(l).v), [1, 2, 3], 'only Quiver\'s rows are served')
  const arrow = await call('/v1/topics/othersys/records')
  t.equal(arrow.status, 200)
  const table = tableFromIPC(new Uint8Array(await arrow.arrayBuffer()))
  t.same(table.schema.fields.map((f) => f.name), ['v', '__ingested_at'])
  t.same([...table.getChild('v')!].map(Number), [1, 2, 3])

  const topic = await (await call('/v1/topics/othersys')).json() as { stats: { rows: number, files: number } }
  t.match(topic.stats, { rows: 3, files: 1 })

  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, /^quiver_corrupt_objects_total 2$/m)
  for (const k of [EMPTY, GARBAGE]) t.match(gw.stdout(), k, `the log names ${k}`)
}

t.test('local storage: foreign objects are never listed nor served, corrupt ones are skipped and flagged', async (t) => {
  const gw = await startGateway(t, { AUTO_CREATE_TOPICS: 'false' })
  await exercise(t, gw, async (key, body) => {
    const path = join(gw.dataDir, ...key.split('/'))
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, body)
  })
})

t.test('S3 (s3rver, empty S3_PREFIX): the same', async (t) => {
  const s3 = await startS3rver(t)
  const gw = await startGateway(t, { ...s3.env, AUTO_CREATE_TOPICS: 'false' })
  await exercise(t, gw, async (key, body) => {
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }))
  })
})
