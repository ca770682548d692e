import t from 'tap'
import { startGateway } from '../helpers/gateway.ts'
import { startS3rver } from '../helpers/s3rver.ts'
import { makeIpcStream, TEST_TOPIC_SCHEMA } from '../helpers/arrow.ts'
import { preparedDataDir } from './lib/tokens.ts'
import { readParquetTable } from './lib/parquet.ts'

/* Two real gateway processes on one s3rver bucket, as behind a load balancer. */
const ROUNDS = 10

t.test('two instances on one bucket: one 201 and one 409 per concurrent creation, unique keys, one catalog', async (t) => {
  const s3 = await startS3rver(t)
  const { dataDir, token } = preparedDataDir(t)
  const env = { ...s3.env, DATA_DIR: dataDir, FLUSH_INTERVAL_MS: '100' }
  const [a, b] = await Promise.all([startGateway(t, env, { timeoutMs: 90_000 }), startGateway(t, env, { timeoutMs: 90_000 })])
  const admin = token(['admin'])
  const create = (url: string, name: string) => fetch(`${url}/v1/topics`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, schema: TEST_TOPIC_SCHEMA }) })

  const names: string[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const name = `race_${i}`
    names.push(name)
    const [ra, rb] = await Promise.all([create(a.url, name), create(b.url, name)])
    const statuses = [ra.status, rb.status].sort()
    t.same(statuses, [201, 409], `${name}: one 201, one 409`)
    const conflict = ra.status === 409 ? ra : rb
    t.same(await conflict.json(), { statusCode: 409, code: 'QUIVER_TOPIC_EXISTS', error: 'Conflict', message: `Topic "${name}" already exists` })
  }

  // Writes from both land under unique keys; both see every topic.
  const writer = token(['write'])
  const post = (url: string, start: number) => fetch(`${url}/v1/topics/race_0/records`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' }, body: Buffer.from(makeIpcStream(30, { start })) })
  const results = await Promise.all([0, 1, 2, 3, 4, 5].map((k) => post(k % 2 === 0 ? a.url : b.url, k * 1000)))
  t.same(results.map((r) => r.status), [200, 200, 200, 200, 200, 200])
  const keys = (await s3.listKeys('race_0/')).filter((k) => k.endsWith('.parquet'))
  t.equal(new Set(keys).size, keys.length)
  let rows = 0
  const ids = new Set<number>()
  for (const key of keys) {
    const table = readParquetTable(await s3.getObject(key))
    rows += table.numRows
    for (const id of table.getChild('id')!.toArray() as BigInt64Array) ids.add(Number(id))
  }
  t.equal(rows, 180, `180 rows in ${keys.length} objects`)
  t.equal(ids.size, 180, 'each row once')

  for (const gw of [a, b]) {
    const res = await fetch(`${gw.url}/v1/topics`, { headers: { authorization: `Bearer ${token(['read'])}` } })
    const listed = ((await res.json()) as { topics: Array<{ name: string }> }).topics.map((x) => x.name).sort()
    t.same(listed, names.slice().sort(), `${gw.url} lists every topic, whichever instance created it`)
  }
})
