import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import t from 'tap'
import { startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { makeIpcStream, TEST_TOPIC_SCHEMA } from '../helpers/arrow.ts'
import { waitFor } from '../helpers/wait.ts'
import { runCli } from './helpers/cli.ts'

// `quiver send` keys every batch (file identity + batch number, README "Delivery guarantees"):
// a run frozen and killed with batches stored but unacknowledged, then rerun with --resume,
// leaves every row exactly once (DuckDB); over HTTP and over WebSocket. --no-keys turns it off.

const dir = mkdtempSync(join(tmpdir(), 'quiver-cli-keys-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
// FLUSH_INTERVAL_MS paces the acks (a durable ack waits for its flush), so the first run is
// frozen long before it could finish.
const gw = await startGateway(t, { FLUSH_INTERVAL_MS: '300', LOG_LEVEL: 'warn' })
const admin = { authorization: `Bearer ${localToken(gw.dataDir, ['admin'])}` }
const env = { QUIVER_TOKEN: localToken(gw.dataDir, ['write'], { subject: 'cli' }) }
const ROWS = 12_000
const BATCH = 200
const file = join(dir, 'rows.arrows')
writeFileSync(file, makeIpcStream(ROWS, { batchRows: BATCH }))

async function createTopic (name: string) {
  t.equal((await fetch(`${gw.url}/v1/topics`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ name, schema: TEST_TOPIC_SCHEMA }) })).status, 201)
}

async function stats (topic: string): Promise<{ bufferedRows: number }> {
  const s = await (await fetch(`${gw.url}/v1/admin/stats`, { headers: admin })).json() as { topics: Record<string, { bufferedRows: number }> }
  return s.topics[topic] ?? { bufferedRows: 0 }
}

/** Rows per id (count and distinct ids) of the topic, read back with DuckDB. */
async function stored (topic: string): Promise<{ n: number, ids: number, lo: number, hi: number }> {
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  const [agg] = (await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n, count(DISTINCT id)::BIGINT AS ids, min(id)::BIGINT AS lo, max(id)::BIGINT AS hi
    FROM read_parquet('${join(gw.dataDir, topic, '**', '*.parquet')}')`)).getRowObjectsJS()
  conn.closeSync()
  return { n: Number(agg.n), ids: Number(agg.ids), lo: Number(agg.lo), hi: Number(agg.hi) }
}

for (const transport of ['http', 'ws']) {
  t.test(`${transport}: a run killed with stored, unacknowledged batches, rerun with --resume: every row once`, async (t) => {
    const topic = `keys_${transport}`
    await createTopic(topic)
    const state = join(dir, `${topic}.state.json`)
    const args = ['send', file, '--topic', topic, '--url', gw.url, '--transport', transport, '--batch-rows', String(BATCH), '--inflight', '4', '--resume', state, '--json']
    const first = runCli(args, env)
    t.teardown(() => first.kill('SIGKILL'))
    const acked = () => existsSync(state) ? JSON.parse(readFileSync(state, 'utf8')) as { watermark: number, acked: number[], complete: boolean } : null
    await waitFor(() => (acked()?.watermark ?? 0) >= 3, 'three batches acknowledged', { timeoutMs: 60_000, everyMs: 10 })
    // Frozen while the gateway holds some of its batches uncommitted: they are committed anyway,
    // but the CLI never reads their acks (stored, unacknowledged: what a rerun must not store again).
    await waitFor(async () => {
      if ((await stats(topic)).bufferedRows === 0) return false
      first.kill('SIGSTOP')
      if ((await stats(topic)).bufferedRows > 0) return true
      first.kill('SIGCONT')
      return false
    }, 'frozen with batches buffered', { timeoutMs: 60_000, everyMs: 5 })
    await waitFor(async () => (await stats(topic)).bufferedRows === 0, 'the batches in flight committed', { timeoutMs: 60_000, everyMs: 20 })
    first.kill('SIGKILL')
    t.equal((await first.done).signal, 'SIGKILL')
    const saved = acked()!
    t.notOk(saved.complete, `killed after ${saved.watermark} acknowledged batches`)
    const before = await stored(topic)
    const unacked = before.n - (saved.watermark + saved.acked.length) * BATCH
    t.comment(`at the kill: ${before.n} rows stored, ${unacked} of them in batches the CLI had no ack for`)

    const second = await runCli(args, env).done
    t.equal(second.code, 0, second.stderr)
    const summary = JSON.parse(second.stdout)
    t.equal(summary.skippedBatches, saved.watermark + saved.acked.length, 'acknowledged batches skipped')
    t.equal(summary.rows + summary.skippedBatches * BATCH, ROWS, 'the rest sent')
    t.ok(unacked > 0, 'some stored batches were unacknowledged')
    t.match(second.stderr, new RegExp(`quiver: ${unacked / BATCH} batch(es were| was) already stored \\(sent before, acknowledgement lost\\): the gateway replayed`), 'the stored, unacknowledged batches were replayed')
    t.same(await stored(topic), { n: ROWS, ids: ROWS, lo: 0, hi: ROWS - 1 }, 'every row exactly once')
  })
}

t.test('a rerun without --resume stores nothing twice; --no-keys does (at-least-once)', async (t) => {
  await createTopic('rerun')
  const args = ['send', file, '--topic', 'rerun', '--url', gw.url, '--batch-rows', '3000', '--json']
  for (let run = 0; run < 2; run++) {
    const r = await runCli(args, env).done
    t.equal(r.code, 0, r.stderr)
    t.match(JSON.parse(r.stdout), { rows: ROWS, batches: 4, skippedBatches: 0 })
    if (run === 1) t.match(r.stderr, /quiver: 4 batches were already stored/)
  }
  t.same(await stored('rerun'), { n: ROWS, ids: ROWS, lo: 0, hi: ROWS - 1 }, 'the second run was replayed')
  const off = await runCli([...args, '--no-keys'], env).done
  t.equal(off.code, 0, off.stderr)
  t.same(await stored('rerun'), { n: 2 * ROWS, ids: ROWS, lo: 0, hi: ROWS - 1 }, 'without keys the same file is stored again')
})
