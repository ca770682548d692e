import t from 'tap'
import { makeIpcStream } from '../helpers/arrow.ts'
import { faultedGateway, STORAGE_DOWN, STORAGE_FAILING } from './lib/faulted-gateway.ts'
import { readParquetTable } from './lib/parquet.ts'

/*
 * Keyed requests while S3 fails, between a real gateway process and a real s3rver (fault proxy).
 * Found from outside: a keyed POST answered 500 QUIVER_INTERNAL (no Retry-After) where the same
 * body without a key got 503, minting a token too; and after a keyed request's 503, its key
 * answered 409 for the rest of its lease (30 s) because the release could not be written while
 * storage was down, though the instance itself had released it.
 */
const ROWS = 10

t.test('S3 failing: keyed requests and token minting answer 503 with Retry-After; a key released while storage was down is free again at once', async (t) => {
  const { s3, proxy, gw, token, admin } = await faultedGateway(t, 'keyed')
  const writer = token(['write'])
  const post = async (key: string, start: number) => {
    const res = await fetch(`${gw.url}/v1/topics/keyed/records`, {
      method: 'POST',
      headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream', 'idempotency-key': key },
      body: Buffer.from(makeIpcStream(ROWS, { start })),
      signal: AbortSignal.timeout(60_000)
    })
    return { status: res.status, body: await res.json() as unknown, retryAfter: res.headers.get('retry-after'), replayed: res.headers.get('idempotent-replayed') }
  }

  // Storage unreachable from the first call on: the key cannot even be claimed.
  proxy.mode('refuse')
  const down = await post('k-down', 0)
  t.same([down.status, down.body], [503, STORAGE_DOWN], 'a keyed request: 503, as without a key')
  t.ok(Number(down.retryAfter) >= 1, `Retry-After ${down.retryAfter}`)
  const mint = await fetch(`${gw.url}/v1/admin/tokens`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ subject: 'svc-a', roles: ['write'], ttlSeconds: 600 }) })
  t.same([mint.status, await mint.json()], [503, STORAGE_FAILING], 'minting a token: 503, no token handed out')
  t.ok(Number(mint.headers.get('retry-after')) >= 1)
  // What is not an ingest says storage is failing, not that data was not committed (before: it did).
  for (const path of ['/v1/topics', '/v1/topics/keyed', '/v1/topics/keyed/files', '/v1/topics/keyed/records']) {
    const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${admin}` } })
    t.same([res.status, await res.json(), Number(res.headers.get('retry-after')) >= 1], [503, STORAGE_FAILING, true], `GET ${path}`)
  }

  // Storage fails just after the key is claimed: the request fails (503), and so does writing its release.
  proxy.mode('pass')
  proxy.onRequest((r) => {
    if (r.method === 'PUT' && /^\/[^/]+\/_idempotency\/keyed\/[0-9a-f]+\/0000000001\.json\?/.test(r.path) && proxy.current() === 'pass') proxy.mode('refuse')
  })
  const failed = await post('k-released', 100)
  t.same([failed.status, failed.body], [503, STORAGE_DOWN], 'the request failed once storage went away')
  proxy.mode('pass')
  const retried = await post('k-released', 100)
  t.same([retried.status, retried.body], [200, { topic: 'keyed', rows: ROWS, batches: 1, bytes: retried.status === 200 ? (retried.body as { bytes: number }).bytes : -1, ack: 'durable' }], 'its retry is taken at once (before: 409 for the rest of the 30 s lease)')
  const replay = await post('k-released', 100)
  t.same([replay.status, replay.replayed], [200, 'true'], 'then replayed')
  const ids: number[] = []
  for (const key of await s3.listKeys('keyed/')) {
    if (!key.endsWith('.parquet')) continue
    ids.push(...Array.from(readParquetTable(await s3.getObject(key)).getChild('id')!.toArray() as BigInt64Array, Number))
  }
  t.same(ids.sort((a, b) => a - b), Array.from({ length: ROWS }, (_, i) => 100 + i), 'its rows stored once')
})
