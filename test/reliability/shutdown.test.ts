import t, { type Test as Tap } from 'tap'
import { startGateway } from '../helpers/gateway.ts'
import { startS3rver } from '../helpers/s3rver.ts'
import { TEST_TOPIC_SCHEMA } from '../helpers/arrow.ts'
import { preparedDataDir } from './lib/tokens.ts'
import { startProducer, type RetryMode } from './lib/load.ts'
import { readParquetTable } from './lib/parquet.ts'
import { waitFor } from '../helpers/wait.ts'

/*
 * SIGTERM under load: the gateway stops accepting, lets in-flight requests finish, flushes every
 * buffer (ack=accepted rows too), answers the waiting clients and exits 0 within SHUTDOWN_TIMEOUT_MS.
 */
async function sigtermUnderLoad (t: Tap, o: { flushIntervalMs: number, shutdownTimeoutMs: number }): Promise<void> {
  const SHUTDOWN_TIMEOUT_MS = o.shutdownTimeoutMs
  const s3 = await startS3rver(t)
  const { dataDir, token } = preparedDataDir(t)
  // A flush interval long enough that at SIGTERM the buffers hold data only the shutdown flush can save.
  const gw = await startGateway(t, { ...s3.env, DATA_DIR: dataDir, FLUSH_INTERVAL_MS: String(o.flushIntervalMs), SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) }, { timeoutMs: 60_000 })
  const created = await fetch(`${gw.url}/v1/topics`, { method: 'POST', headers: { authorization: `Bearer ${token(['admin'])}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'term', schema: TEST_TOPIC_SCHEMA }) })
  t.equal(created.status, 201)
  const writer = token(['write'])

  // ack=accepted producers fill the buffers; durable ones wait on the flush.
  const accepted: Array<{ start: number, rows: number }> = []
  for (let i = 0; i < 20; i++) {
    const start = 50_000_000 + i * 10
    const res = await fetch(`${gw.url}/v1/topics/term/records?ack=accepted`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/x-ndjson' }, body: Array.from({ length: 10 }, (_, k) => JSON.stringify({ id: start + k, name: 'n', price: 1, ts: new Date().toISOString(), ok: true })).join('\n') })
    t.equal(res.status, 202)
    accepted.push({ start, rows: 10 })
  }
  // After a dropped connection, two producers retry at their pace and two wait until the gateway
  // accepts connections again: those leave their keep-alive connection idle once acked, and the
  // gateway must not wait for them to go.
  const retry: RetryMode[] = ['pace', 'pace', 'await-gateway', 'await-gateway']
  const producers = retry.map((mode, c) => startProducer(gw.url, writer, 'term', c, c * 1_000_000, 25, mode))
  // SIGTERM once every producer has a durable request in the buffers (25 rows each, on top of
  // the 200 accepted ones), waiting for its flush.
  const admin = token(['admin'])
  const rowsIn = async () => {
    const stats = await (await fetch(`${gw.url}/v1/admin/stats`, { headers: { authorization: `Bearer ${admin}` } })).json() as { topics: Record<string, { bufferedRows: number, committedRows: number }> }
    const term = stats.topics.term
    return term === undefined ? 0 : term.bufferedRows + term.committedRows
  }
  await waitFor(async () => await rowsIn() >= 200 + 4 * 25, 'a durable request of every producer in the buffers', { timeoutMs: 60_000, everyMs: 20 })

  const killedAt = Date.now()
  gw.kill('SIGTERM')
  const code = await gw.exited
  const exitMs = Date.now() - killedAt
  for (const p of producers) await p.stop()
  t.equal(code, 0, 'exit 0')
  t.ok(exitMs < SHUTDOWN_TIMEOUT_MS, `exited ${exitMs} ms after SIGTERM (limit ${SHUTDOWN_TIMEOUT_MS})`)
  const durable = producers.flatMap((p) => p.acks)
  t.same(producers.flatMap((p) => p.odd), [], 'requests got 200, 503 or a closed connection')
  t.ok(durable.length >= 4, `${durable.length} durable requests in flight at SIGTERM were acknowledged`)

  const seen = new Map<number, number>()
  for (const key of await s3.listKeys('term/')) {
    const table = readParquetTable(await s3.getObject(key))
    for (const id of table.getChild('id')!.toArray() as BigInt64Array) seen.set(Number(id), (seen.get(Number(id)) ?? 0) + 1)
  }
  const missing: string[] = []
  let ackedRows = 0
  for (const a of [...accepted, ...durable]) {
    for (let id = a.start; id < a.start + a.rows; id++) {
      ackedRows++
      if (seen.get(id) !== 1) { missing.push(`id ${id} stored ${seen.get(id) ?? 0}×`); break }
    }
  }
  t.same(missing, [], 'every acked row (202 and 200) was flushed exactly once')
  t.equal(seen.size, ackedRows, `rows acked ${ackedRows} = rows on storage ${seen.size}`)
}

t.test('SIGTERM during load: in-flight requests finish, buffers flushed, exit 0 in time, acked rows = stored rows', async (t) => {
  await sigtermUnderLoad(t, { flushIntervalMs: 5000, shutdownTimeoutMs: 20_000 })
})

t.test('SIGTERM with a flush window longer than SHUTDOWN_TIMEOUT_MS: the shutdown flushes at once, nothing waits for the window', async (t) => {
  // Before: the durable requests in flight waited for their 10-minute window, the close waited for
  // their connections, the final flush never ran, and the process exited 1 at the deadline with
  // the acknowledged (202) rows still in memory.
  await sigtermUnderLoad(t, { flushIntervalMs: 600_000, shutdownTimeoutMs: 15_000 })
})
