import t, { type Test as Tap } from 'tap'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { freePort, startGateway, type Gateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { startS3rver } from '../helpers/s3rver.ts'

// Crash loop: 4 producers, two per key sequence, each retrying the same key and body
// until it gets 200 while a real gateway is killed with SIGKILL every few seconds and restarted on
// the same storage. Afterwards every key's rows must be stored exactly once, read back from
// Parquet. QUIVER_CRASH_CYCLES=20 runs the long variant (default 6 for CI).
const CYCLES = Number(process.env.QUIVER_CRASH_CYCLES ?? 6)
const ROWS = 20
t.setTimeout(Math.max(600_000, CYCLES * 60_000))

const FIELDS = [{ name: 'id', type: 'int64', nullable: false }, { name: 'k', type: 'string', nullable: false }]
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function crashLoop (t: Tap, storageEnv: Record<string, string>, readDir: (dataDir: string) => Promise<string>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'quiver-crash-keys-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  const env = { ...storageEnv, DATA_DIR: dataDir, PORT: String(port), IDEMPOTENCY_LEASE_MS: '1500', FLUSH_INTERVAL_MS: '150', LOG_LEVEL: 'error' }
  let gw: Gateway = await startGateway(t, env)
  const url = gw.url
  const admin = localToken(dataDir, ['admin'])
  t.equal((await fetch(`${url}/v1/topics`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'crash', schema: { fields: FIELDS } }) })).status, 201)
  const writer = localToken(dataDir, ['write'], { subject: 'producer' })
  const bodyOf = (key: string, i: number, seq: number) => Array.from({ length: ROWS }, (_, r) => JSON.stringify({ id: seq * 1_000_000 + i * 1000 + r, k: key })).join('\n') + '\n'
  const acked = new Map<string, number>() // key -> first id
  const counts = { sent: 0, replayed: 0, conflict: 0, refused: 0, errors: 0 }
  const run = { stopping: false }

  async function producer (seq: number): Promise<void> {
    for (let i = 0; !run.stopping; i++) {
      const key = `seq${seq}-${i}`
      const body = bodyOf(key, i, seq)
      for (;;) {
        counts.sent++
        try {
          const res = await fetch(`${url}/v1/topics/crash/records`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/x-ndjson', 'idempotency-key': key }, body })
          await res.arrayBuffer()
          if (res.status === 200) {
            if (res.headers.get('idempotent-replayed') === 'true') counts.replayed++
            acked.set(key, seq * 1_000_000 + i * 1000)
            break
          }
          if (res.status === 409) counts.conflict++
          else counts.refused++
        } catch {
          counts.errors++
        }
        await pause(25) // a producer's retry backoff, not synchronisation
      }
    }
  }

  // Two producers per key sequence: duplicates race in flight as well as after crashes.
  const producers = [0, 0, 1, 1].map((seq) => producer(seq))
  for (let c = 0; c < CYCLES; c++) {
    await pause(3000 + Math.floor(Math.random() * 1500)) // uptime after healthz, before the kill
    gw.kill('SIGKILL')
    await gw.exited
    gw = await startGateway(t, env)
  }
  run.stopping = true
  await Promise.all(producers)
  gw.kill('SIGTERM')
  await gw.exited

  const db = await DuckDBInstance.create(':memory:')
  const con = await db.connect()
  const rows = (await con.runAndReadAll(`SELECT k, count(*) AS n, count(DISTINCT id) AS ids, min(id) AS first FROM read_parquet('${await readDir(dataDir)}/crash/**/*.parquet') GROUP BY k`)).getRowObjects()
  con.closeSync()
  const byKey = new Map(rows.map((r) => [String(r.k), { n: Number(r.n), ids: Number(r.ids), first: Number(r.first) }]))
  const twice = rows.filter((r) => Number(r.n) !== ROWS).map((r) => `${String(r.k)}: ${Number(r.n)}`)
  const lost = [...acked.keys()].filter((k) => byKey.get(k)?.n !== ROWS)
  t.comment(`${CYCLES} kill -9 cycles: ${acked.size} keys acked, ${rows.length} keys stored, ${counts.sent} requests (${counts.replayed} replays, ${counts.conflict} 409, ${counts.refused} other refusals, ${counts.errors} connection errors)`)
  t.ok(acked.size >= 4, 'producers made progress through the crashes')
  t.same(twice, [], 'no key stored twice (or partly)')
  t.same(lost, [], 'no acked key lost')
  t.equal(rows.length, acked.size, 'nothing stored that was not acked')
}

t.test('crash loop on the local directory', async (t) => {
  await crashLoop(t, {}, async (dataDir) => dataDir)
})

t.test('crash loop on s3rver (which ignores If-None-Match: *)', async (t) => {
  const s3 = await startS3rver(t)
  await crashLoop(t, s3.env, async () => {
    // DuckDB cannot read S3 here (no httpfs): the committed objects are copied out first.
    const out = mkdtempSync(join(tmpdir(), 'quiver-crash-s3-'))
    t.teardown(() => rmSync(out, { recursive: true, force: true }))
    for (const key of await s3.listKeys('crash/')) {
      if (!key.endsWith('.parquet')) continue
      mkdirSync(dirname(join(out, key)), { recursive: true })
      writeFileSync(join(out, key), await s3.getObject(key))
    }
    return out
  })
})
