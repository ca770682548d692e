import { test } from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeIpcStream, makeNdjson, TEST_BASE_TS_MS } from '../helpers/arrow.ts'
import { startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { parquetTable } from './ingest-helpers.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const DIST = join(ROOT, 'dist')

function parquetFiles (dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet')).map((f) => join(dir, f)).sort()
  } catch { return [] }
}

/*
 * The built server (what `npm start` and the container run) is tsc's output of the same sources
 * the other tests run through tsx: same files, same imports, the packages from node_modules. This
 * drives it end to end from dist/: tokens, every ingest path (the encoder worker
 * threads load their entry from dist/, parquet-wasm its .wasm), the console's files, metrics.
 */
test('the built server: tokens, every ingest path, the console, metrics, shutdown', async (t) => {
  t.notOk(existsSync(join(DIST, 'vendor')), 'no vendor bundles: one module graph')
  t.match(readFileSync(join(DIST, 'src', 'arrow', 'decode.js'), 'utf8'), "from 'apache-arrow'", 'dist imports the packages by name, as the sources do')

  const dataDir = t.testdir()
  const writer = localToken(dataDir, ['write'])
  const admin = localToken(dataDir, ['admin'])
  // A small buffer makes a 2 MB request take the encode-while-reading path (encoder thread).
  const gw = await startGateway(t, { DATA_DIR: dataDir, MAX_BUFFERED_BYTES: String(4 * 1024 * 1024) }, { argv: [join(DIST, 'src', 'server.js')] })
  const post = (topic: string, body: Uint8Array | string, type: string, token = writer) => fetch(`${gw.url}/v1/topics/${topic}/records`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body: typeof body === 'string' ? body : Buffer.from(body)
  })

  const bad = await fetch(`${gw.url}/v1/whoami`, { headers: { authorization: `Bearer ${writer.slice(0, -4)}AAAA` } })
  t.equal(bad.status, 401, 'a bad signature is refused')
  const who = await fetch(`${gw.url}/v1/whoami`, { headers: { authorization: `Bearer ${writer}` } })
  t.equal(who.status, 200)
  t.equal((await who.json()).sub, 'test-write')
  const minted = await fetch(`${gw.url}/v1/admin/tokens`, {
    method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ subject: 'minted', roles: ['write'], ttlSeconds: 60 })
  })
  t.equal(minted.status, 200)
  const mintedToken = (await minted.json()).token as string

  const small = await post('events', makeIpcStream(1000), 'application/vnd.apache.arrow.stream', mintedToken)
  t.same(await small.json(), { topic: 'events', rows: 1000, batches: 1, bytes: makeIpcStream(1000).byteLength, ack: 'durable' })
  const ndjson = await post('events', makeNdjson(10, 1000), 'application/x-ndjson')
  t.equal(ndjson.status, 200)
  t.equal((await ndjson.json()).rows, 10)
  const large = makeIpcStream(60_000, { start: 2000 })
  t.ok(large.byteLength > 1024 * 1024, `${large.byteLength} bytes: over a quarter of MAX_BUFFERED_BYTES`)
  const big = await post('events', large, 'application/vnd.apache.arrow.stream')
  t.equal(big.status, 200)
  t.equal((await big.json()).rows, 60_000)

  const tables = parquetFiles(join(dataDir, 'events')).map((f) => parquetTable(readFileSync(f)))
  const ids = tables.flatMap((tb) => [...tb.getChild('id')!].map(Number)).sort((a, b) => a - b)
  t.same(ids, [...Array.from({ length: 1010 }, (_, i) => i), ...Array.from({ length: 60_000 }, (_, i) => 2000 + i)], 'every row once, read back from Parquet')
  const row = tables.map((tb) => tb.toArray().find((r) => Number(r.id) === 1005)).find(Boolean)!.toJSON()
  t.same({ ...row, __ingested_at: undefined }, { id: 1005n, name: 'name-1005', price: 1005 * 1.5, ts: TEST_BASE_TS_MS + 1005 * 1000, ok: false, __ingested_at: undefined })

  const page = await fetch(`${gw.url}/console`)
  t.equal(page.status, 200, 'the console page, copied into dist/ by the build')
  t.match(await page.text(), /<html/i)

  const metrics = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text()
  t.match(metrics, /quiver_rows_ingested_total\{topic="events"\} 61010/, 'prom-client counts')
  t.match(metrics, /process_cpu_user_seconds_total \d/, 'default process metrics')

  gw.kill('SIGTERM')
  t.equal(await gw.exited, 0, 'graceful exit')
})
