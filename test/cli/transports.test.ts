import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Table, tableToIPC } from 'apache-arrow'
import { Table as WasmTable, writeParquet } from 'parquet-wasm'
import t from 'tap'
import { READERS } from '../../src/cli/sources/index.ts'
import { startFaultProxy } from '../helpers/fault-proxy.ts'
import { startGateway } from '../helpers/gateway.ts'
import { runCli } from './helpers/cli.ts'
import { writeRows } from './helpers/files.ts'

const dir = mkdtempSync(join(tmpdir(), 'quiver-cli-tr-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const gw = await startGateway(t, { AUTH_PROVIDERS: 'local', FLUSH_INTERVAL_MS: '100' })
const admin = (await runCli(['token', '--data-dir', gw.dataDir, '--role', 'admin']).done).stdout.trim()
const env = { QUIVER_TOKEN: admin, QUIVER_URL: gw.url }

async function topicRows (topic: string): Promise<number> {
  const res = await fetch(`${gw.url}/v1/topics/${topic}`, { headers: { authorization: `Bearer ${admin}` } })
  return ((await res.json()) as { stats: { rows: number } }).stats.rows
}

t.test('WebSocket transport with --create-topic, then tail prints the next rows as NDJSON', async t => {
  const nd = join(dir, 'a.ndjson')
  writeFileSync(nd, '{"id":1,"tag":"a","at":"2024-05-01T12:00:00Z"}\n{"id":2,"tag":null,"at":"2024-05-01T12:00:01.5Z"}\n')
  const first = await runCli(['send', nd, '--topic', 'live', '--transport', 'ws', '--create-topic', '--json'], env).done
  t.equal(first.code, 0, first.stderr)
  t.match(JSON.parse(first.stdout), { topic: 'live', transport: 'ws', rows: 2, batches: 1 })
  t.match(first.stderr, /created topic "live"/)
  const schema = await (await fetch(`${gw.url}/v1/topics/live`, { headers: { authorization: `Bearer ${admin}` } })).json()
  t.same(schema.schema.fields, [
    { name: 'id', type: 'int64', nullable: true },
    { name: 'tag', type: 'string', nullable: true },
    { name: 'at', type: 'timestamp[us, tz=UTC]', nullable: true }
  ])

  const tail = runCli(['tail', 'live', '--limit', '3'], env)
  await tail.waitForStderr(/following "live"/)
  t.teardown(() => tail.kill('SIGKILL'))
  const json = join(dir, 'b.json')
  writeFileSync(json, JSON.stringify([{ id: 3, tag: 'c', at: '2024-05-01T12:00:03.000123Z' }, { id: 4, tag: 'd', at: null }, { id: 5, tag: 'e', at: '2024-05-01T12:00:05Z' }]))
  const before = Date.now()
  const second = await runCli(['send', json, '--topic', 'live', '--json'], env).done
  t.equal(second.code, 0, second.stderr)
  const tailed = await tail.done
  t.equal(tailed.code, 0, tailed.stderr)
  const lines = tailed.stdout.trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
  // __ingested_at: the gateway's time of ingestion, in µs, the value the stored rows carry.
  for (const l of lines) {
    t.match(l.__ingested_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
    const ms = Date.parse(l.__ingested_at as string)
    t.ok(ms >= before - 1 && ms <= Date.now(), `__ingested_at ${l.__ingested_at as string} within the send`)
  }
  t.same(lines.map(({ __ingested_at: _, ...r }) => r), [
    { id: 3, tag: 'c', at: '2024-05-01T12:00:03.000123Z' },
    { id: 4, tag: 'd', at: null },
    { id: 5, tag: 'e', at: '2024-05-01T12:00:05.000000Z' }
  ])
  t.equal(await topicRows('live'), 5)
})

t.test('tail --limit 3 prints exactly 3 rows while more batches keep arriving', async t => {
  const nd = join(dir, 'many.ndjson')
  writeFileSync(nd, Array.from({ length: 40 }, (_, i) => JSON.stringify({ id: i, tag: `r${i}`, at: null })).join('\n') + '\n')
  const tail = runCli(['tail', 'live', '--limit', '3'], env)
  await tail.waitForStderr(/following "live"/)
  t.teardown(() => tail.kill('SIGKILL'))
  // 20 messages of 2 rows, 8 in flight: the tail receives batches faster than its close completes.
  const sent = await runCli(['send', nd, '--topic', 'live', '--transport', 'ws', '--batch-rows', '2', '--inflight', '8', '--json'], env).done
  t.equal(sent.code, 0, sent.stderr)
  const tailed = await tail.done
  t.equal(tailed.code, 0, tailed.stderr)
  t.same(tailed.stdout.trim().split('\n').map(l => (JSON.parse(l) as { id: number }).id), [0, 1, 2])
})

t.test('Parquet over WebSocket in several pipelined messages', async t => {
  const csv = join(dir, 'p.csv')
  await writeRows(csv, 30_000, 'csv')
  const batches = []
  for await (const b of READERS.csv(csv, { batchRows: 30_000 })) batches.push(b)
  const pq = join(dir, 'p.parquet')
  writeFileSync(pq, writeParquet(WasmTable.fromIPCStream(tableToIPC(new Table(batches), 'stream'))))
  const run = await runCli(['send', pq, '--topic', 'from_parquet', '--transport', 'ws', '--batch-rows', '4000', '--inflight', '4', '--json'], env).done
  t.equal(run.code, 0, run.stderr)
  t.match(JSON.parse(run.stdout), { rows: 30_000, batches: 8, retries: 0 })
  t.equal(await topicRows('from_parquet'), 30_000)
})

t.test('failed batches are retried until acknowledged; permanent errors stop at once', async t => {
  const proxy = await startFaultProxy(t, gw.url)
  const csv = join(dir, 'r.csv')
  await writeRows(csv, 2000, 'csv')
  // Once the first batch went through, the gateway "fails" for three requests, then recovers:
  // switched as the requests arrive, so however fast the CLI sends, batch 2 is the one that fails.
  let posts = 0
  proxy.onRequest((r) => {
    if (r.method !== 'POST') return
    posts++
    if (posts === 1) proxy.mode({ status: 503, body: '{"statusCode":503,"code":"QUIVER_OVERLOADED","error":"Service Unavailable","message":"busy"}', contentType: 'application/json' })
    if (posts === 4) proxy.mode('pass')
  })
  const run = runCli(['send', csv, '--topic', 'retried', '--url', proxy.url, '--batch-rows', '500', '--inflight', '1', '--json'], env)
  const done = await run.done
  t.equal(done.code, 0, done.stderr)
  const summary = JSON.parse(done.stdout)
  t.match(summary, { rows: 2000, batches: 4 })
  t.ok(summary.retries >= 3, `${summary.retries} retries`)
  t.match(done.stderr, /batch 2: POST \/v1\/topics\/retried\/records: 503 QUIVER_OVERLOADED: busy; retry 1\/8/)
  t.equal(await topicRows('retried'), 2000)

  writeFileSync(join(dir, 'm.csv'), 'other,columns\n1,2\n')
  const mismatch = await runCli(['send', join(dir, 'm.csv'), '--topic', 'retried', '--json'], env).done
  t.equal(mismatch.code, 1)
  t.match(mismatch.stderr, /columns not in the topic's schema: other, columns/)
  writeFileSync(join(dir, 'm.ndjson'), '{"id":"x"}\n')
  const bad = await runCli(['send', join(dir, 'm.ndjson'), '--topic', 'retried', '--json'], env).done
  t.equal(bad.code, 1)
  t.match(bad.stderr, `${join(dir, 'm.ndjson')}: line 1: field "id": expected int64, got "x"`)
  const denied = await runCli(['send', csv, '--topic', 'retried', '--token', 'not-a-jwt', '--json'], env).done
  t.equal(denied.code, 1)
  t.match(denied.stderr, /401 QUIVER_UNAUTHORIZED/)
})
