import { test, type Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { freePort } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { checkoutCopy, spawnGroup } from '../helpers/shell.ts'
import { waitFor } from '../helpers/wait.ts'

// However `npm start` is stopped, every acknowledged row is flushed before the
// server exits. A checkout copy with its build: `npm start` is npm → sh → node src/start.js,
// which runs dist/src/server.js in its own process.
const ROWS_PER_REQUEST = 20_000
const REQUESTS = 10

interface Run {
  stdout: () => string
  launcherPid: number
  serverPid: number
  dataDir: string
  exited: Promise<number | string>
  /** Calls `fn` from the output handler itself, the moment `text` first appears in the output. */
  onOutput: (text: string, fn: () => void) => void
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Starts `command` in its own process group in a checkout copy; resolves once it is healthy and holds buffered, acked rows. */
async function startWithRowsInFlight (t: Test, command: string, args: string[], requests = REQUESTS): Promise<Run & { acked: number }> {
  const cwd = checkoutCopy(t)
  const dataDir = mkdtempSync(join(tmpdir(), 'quiver-signals-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  const proc = spawnGroup(t, command, args, {
    cwd,
    // Nothing flushes on its own: every row is in a buffer when the signal comes.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info', FLUSH_INTERVAL_MS: '600000', ENCODER_THREADS: '1' }
  })
  let out = ''
  const watches: Array<{ text: string, fn: () => void }> = []
  const onData = (d: Buffer): void => {
    out += d.toString()
    for (const w of watches.splice(0)) {
      if (out.includes(w.text)) w.fn()
      else watches.push(w)
    }
  }
  proc.stdout!.on('data', onData)
  proc.stderr!.on('data', onData)
  const onOutput = (text: string, fn: () => void): void => {
    if (out.includes(text)) fn()
    else watches.push({ text, fn })
  }
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  const url = `http://127.0.0.1:${port}`
  await waitFor(async () => (await fetch(`${url}/healthz`).then((r) => r.status, () => 0)) === 200, `healthy gateway\n${out}`, { timeoutMs: 120_000, everyMs: 100 })
  // The server's own pid, from its JSON log lines (pino writes it on every line).
  const serverPid = Number(/"pid":(\d+)/.exec(out)?.[1])
  if (command === 'npm') t.ok(serverPid > 0 && serverPid !== proc.pid, `server pid ${serverPid}, launcher ${proc.pid}`)
  else t.equal(serverPid, proc.pid, 'src/start.js runs the server in its own process')

  const admin = localToken(dataDir, ['admin'])
  const created = await fetch(`${url}/v1/topics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'signals', schema: { fields: [{ name: 'id', type: 'int64', nullable: false }, { name: 'note', type: 'string', nullable: false }] } })
  })
  t.equal(created.status, 201)
  let acked = 0
  for (let r = 0; r < requests; r++) {
    const body = Array.from({ length: ROWS_PER_REQUEST }, (_, i) => JSON.stringify({ id: r * ROWS_PER_REQUEST + i, note: `row ${r * ROWS_PER_REQUEST + i} of a request acknowledged before the signal` })).join('\n') + '\n'
    const res = await fetch(`${url}/v1/topics/signals/records?ack=accepted`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/x-ndjson' }, body })
    t.equal(res.status, 202)
    acked += ((await res.json()) as { rows: number }).rows
  }
  t.equal(acked, requests * ROWS_PER_REQUEST)
  return { stdout: () => out, launcherPid: proc.pid!, serverPid, dataDir, exited, acked, onOutput }
}

/** Rows on storage read back with DuckDB: count, distinct ids, min and max id. */
async function stored (dataDir: string): Promise<{ rows: number, ids: number, min: number, max: number }> {
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  try {
    const [row] = (await conn.runAndReadAll(`SELECT count(*)::INT AS rows, count(DISTINCT id)::INT AS ids, min(id)::INT AS min, max(id)::INT AS max FROM read_parquet('${join(dataDir, 'signals')}/**/*.parquet')`)).getRowObjectsJS()
    return row as { rows: number, ids: number, min: number, max: number }
  } finally {
    conn.closeSync()
    db.closeSync()
  }
}

async function serverGone (t: Test, run: Run, what: string) {
  await waitFor(() => !alive(run.serverPid), `the server (pid ${run.serverPid}) to exit after ${what}\n${run.stdout().slice(-3000)}`, { timeoutMs: 60_000, everyMs: 50 })
  const all = run.stdout()
  t.match(all, /"msg":"shutting down: flushing buffers"/, 'a graceful shutdown was logged')
  t.notMatch(all, /killed by timeout|second SIG/, 'nothing cut it short')
}

test('npm start: SIGTERM to npm\'s pid only (npm leaves at once): the server notices and flushes every acked row', async (t) => {
  const run = await startWithRowsInFlight(t, 'npm', ['start'])
  process.kill(run.launcherPid, 'SIGTERM') // npm alone, as a process manager or a container runtime does
  await run.exited
  t.ok(alive(run.serverPid), 'npm left; its server is still running (orphaned)')
  await serverGone(t, run, 'npm left')
  t.match(run.stdout(), /"reason":"launcher left \(pid \d+\)","msg":"shutting down: flushing buffers"/, 'it noticed its launcher leaving')
  t.same(await stored(run.dataDir), { rows: run.acked, ids: run.acked, min: 0, max: run.acked - 1 }, `${run.acked} acked rows on storage, once each`)
})

test('npm start, Ctrl-C (SIGINT to the whole group: npm, sh and the server): every acked row stored', async (t) => {
  const run = await startWithRowsInFlight(t, 'npm', ['start'])
  process.kill(-run.launcherPid, 'SIGINT') // the terminal's: npm, sh and node src/start.js (the server)
  await serverGone(t, run, 'SIGINT to the group')
  // npm, leaving on the signal, may be seen by the server as its launcher leaving during the
  // flush: one more reason to shut down, ignored; nothing may cut the flush short.
  t.same(await stored(run.dataDir), { rows: run.acked, ids: run.acked, min: 0, max: run.acked - 1 }, `${run.acked} acked rows on storage, once each`)
})

test('node src/start.js (the built server in its own process): Ctrl-C twice during the flush loses nothing, exit 0', async (t) => {
  // Four times the rows of the other cases, so the flush outlasts the second Ctrl-C by far: with
  // 200k rows it once ended, and the server exited, before the second signal was handled.
  const run = await startWithRowsInFlight(t, process.execPath, ['src/start.js'], 4 * REQUESTS)
  t.notMatch(run.stdout(), /npm run build/, 'the copy\'s dist/ is current: no build')
  let second = 0
  // A second Ctrl-C the moment the flush is logged, not at the next poll.
  run.onOutput('"msg":"shutting down: flushing buffers"', () => {
    second = performance.now()
    process.kill(-run.launcherPid, 'SIGINT')
  })
  process.kill(-run.launcherPid, 'SIGINT')
  t.equal(await run.exited, 0, 'exit code 0')
  t.ok(second > 0, 'the second Ctrl-C was sent during the flush')
  t.comment(`the server exited ${(performance.now() - second).toFixed(0)} ms after the second Ctrl-C`)
  await serverGone(t, run, 'two SIGINTs to the group')
  // Sent after the flush began, so it is a repeat, logged and ignored.
  t.ok((run.stdout().match(/already shutting down/g) ?? []).length >= 1, 'the repeat is logged and ignored')
  t.same(await stored(run.dataDir), { rows: run.acked, ids: run.acked, min: 0, max: run.acked - 1 }, `${run.acked} acked rows on storage, once each`)
})
