import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import t from 'tap'
import { startGateway } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'
import { runCli } from './helpers/cli.ts'
import { writeRows } from './helpers/files.ts'

const dir = mkdtempSync(join(tmpdir(), 'quiver-cli-send-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const gw = await startGateway(t, { AUTH_PROVIDERS: 'local', FLUSH_INTERVAL_MS: '200' })
const minted = await runCli(['token', '--data-dir', gw.dataDir, '--role', 'write']).done
const token = minted.stdout.trim()
const common = ['--url', gw.url, '--json']
const env = { QUIVER_TOKEN: token }

async function stored (topic: string) {
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  const glob = join(gw.dataDir, topic, '**', '*.parquet')
  const [agg] = (await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n, count(DISTINCT id)::BIGINT AS ids,
    min(id)::BIGINT AS lo, max(id)::BIGINT AS hi FROM read_parquet('${glob}')`)).getRowObjectsJS()
  const sample = (await conn.runAndReadAll(`SELECT id::BIGINT AS id, name, value, strftime(ts, '%Y-%m-%dT%H:%M:%SZ') AS ts, ok
    FROM read_parquet('${glob}') WHERE id IN (0, 7, 100001) ORDER BY id`)).getRowObjectsJS()
  conn.closeSync()
  return { agg: Object.fromEntries(Object.entries(agg).map(([k, v]) => [k, Number(v)])), sample }
}

t.test('quiver token mints a working write token from the gateway DATA_DIR', async t => {
  t.equal(minted.code, 0)
  t.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/)
  const res = await fetch(`${gw.url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(res.status, 200)
  t.match(await res.json(), { sub: 'local-writer', roles: ['read', 'write'] })
})

t.test('send of a 50 MB CSV: exact rows on storage, bounded CLI memory', async t => {
  const file = join(dir, 'big.csv')
  const rows = 850_000
  await writeRows(file, rows, 'csv')
  const size = statSync(file).size
  t.ok(size >= 50e6, `input is ${(size / 1e6).toFixed(1)} MB`)
  const run = await runCli(['send', file, '--topic', 'big_csv', ...common], env).done
  t.equal(run.code, 0, run.stderr)
  const summary = JSON.parse(run.stdout)
  t.match(summary, { topic: 'big_csv', transport: 'http', rows, batches: 17, skippedBatches: 0, bytes: size, retries: 0 })
  t.comment(`CLI send: ${summary.mibPerSecond.toFixed(1)} MiB/s, ${Math.round(summary.rowsPerSecond)} rows/s, ${summary.seconds.toFixed(1)} s, peak RSS ${(run.peak / 1048576).toFixed(0)} MiB`)
  t.ok(run.peak > 0 && run.peak < 300 * 1048576, `peak RSS ${(run.peak / 1048576).toFixed(0)} MiB < 300 MiB`)
  const { agg, sample } = await stored('big_csv')
  t.same(agg, { n: rows, ids: rows, lo: 0, hi: rows - 1 })
  t.same(sample, [
    { id: 0, name: 'name 0, "q"', value: 0, ts: '2024-01-01T00:00:00Z', ok: true },
    { id: 7, name: 'name 7, "q"', value: 1.75, ts: '2024-01-01T00:00:07Z', ok: false },
    { id: 100001, name: 'name-100001', value: 25000.25, ts: '2024-01-02T03:46:41Z', ok: false }
  ])
})

t.test('a run killed mid-way and resumed leaves no gap; duplicates stay within the in-flight window', async t => {
  const file = join(dir, 'resume.ndjson')
  const rows = 120_000
  const batchRows = 4000
  await writeRows(file, rows, 'ndjson')
  const state = join(dir, 'resume.state.json')
  const args = ['send', file, '--topic', 'resumed', '--batch-rows', String(batchRows), '--inflight', '3', '--resume', state, ...common]
  const first = runCli(args, env)
  // Kill once some batches are acknowledged but well before the end.
  await waitFor(() => existsSync(state) && JSON.parse(readFileSync(state, 'utf8')).watermark >= 6, '6 acknowledged batches in the state file', { timeoutMs: 60_000, everyMs: 20 })
  first.kill('SIGKILL')
  const killed = await first.done
  t.equal(killed.signal, 'SIGKILL')
  const saved = JSON.parse(readFileSync(state, 'utf8'))
  t.ok(saved.watermark >= 6 && !saved.complete, `killed after ${saved.watermark} acknowledged batches`)
  t.ok(saved.rowsAcked < rows, 'the first run did not finish')

  const second = await runCli(args, env).done
  t.equal(second.code, 0, second.stderr)
  const summary = JSON.parse(second.stdout)
  const skipped = summary.skippedBatches
  t.ok(skipped >= saved.watermark, `resumed run skipped ${skipped} acknowledged batches`)
  t.equal(summary.rows + skipped * batchRows, rows, 'the resumed run sent exactly the batches not acknowledged')
  t.match(JSON.parse(readFileSync(state, 'utf8')), { complete: true, watermark: rows / batchRows, acked: [] })

  const { agg } = await stored('resumed')
  t.match(agg, { ids: rows, lo: 0, hi: rows - 1 }, 'every row id is on storage')
  t.ok(agg.n >= rows && agg.n <= rows + 3 * batchRows, `${agg.n - rows} duplicated rows (≤ 3 in-flight batches)`)

  const again = await runCli(args, env).done
  t.equal(again.code, 0)
  t.match(JSON.parse(again.stdout), { rows: 0, batches: 0, skippedBatches: rows / batchRows }, 'a completed run resent nothing')
})

t.test('a bad value far into the file stops the run with its file line and field', async t => {
  const file = join(dir, 'bad.csv')
  const lines = ['id,name,value']
  for (let i = 0; i < 3000; i++) lines.push(`${i},n${i},${i === 2500 ? 'abc' : i / 4}`)
  writeFileSync(file, lines.join('\n') + '\n')
  const run = await runCli(['send', file, '--topic', 'bad_csv', '--batch-rows', '1000', ...common], env).done
  t.equal(run.code, 1)
  const message = `${file}: line 2502: field "value": expected double, got "abc"`
  t.equal(run.stderr.split('\n')[0], `quiver: send stopped: ${message}`)
  t.match(JSON.parse(run.stdout), { topic: 'bad_csv', error: message })
})
