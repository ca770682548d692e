import tap, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../helpers/gateway.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const DIST = join(ROOT, 'dist', 'src', 'server.js')
const NOTICE = 'running the TypeScript sources (npm run build for the faster start)'

/** `npm start`'s entry with dist/src/server.js dated `mtime`: healthy, then SIGTERM → exit 0. */
async function startWithDistAt (t: Test, mtime: Date) {
  const before = statSync(DIST)
  utimesSync(DIST, before.atime, mtime)
  t.teardown(() => utimesSync(DIST, before.atime, before.mtime))
  const dataDir = mkdtempSync(join(tmpdir(), 'quiver-start-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  let err = ''
  let out = ''
  const proc = spawn(process.execPath, [join(ROOT, 'src', 'start.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', PORT: String(port), DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  proc.stdout.on('data', (d: Buffer) => { out += d.toString() })
  proc.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  t.teardown(() => { if (proc.exitCode === null) proc.kill('SIGKILL') })
  const deadline = Date.now() + 60_000
  let status = 0
  while (Date.now() < deadline && proc.exitCode === null) {
    status = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0)
    if (status === 200) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.equal(status, 200, `healthy\n${err}`)
  t.match(out, /Authorization: Bearer/, 'the local provider printed its tokens')
  proc.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM: graceful exit 0')
  return err
}

tap.test('npm start runs the build when it is newer than every source', async (t) => {
  t.ok(existsSync(DIST), 'dist/ is built (npm ci runs the prepare script)')
  const err = await startWithDistAt(t, new Date(Date.now() + 3600_000))
  t.notMatch(err, NOTICE)
})

tap.test('npm start falls back to the TypeScript sources when the build is older than them', async (t) => {
  const err = await startWithDistAt(t, new Date(1000))
  t.match(err, `quiver: sources changed since the last build: ${NOTICE}`)
})
