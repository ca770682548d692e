import tap, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../helpers/gateway.ts'
import { checkoutCopy } from '../helpers/shell.ts'
import { waitFor } from '../helpers/wait.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const DIST = join(ROOT, 'dist', 'src', 'server.js')
const BUILDING = 'npm run build (tsc; npm run dev runs the sources without a build)'

/** `npm start`'s entry (src/start.js) in checkout `cwd`: healthy, then SIGTERM → exit 0. Returns its stderr. */
async function startIn (t: Test, cwd: string): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'quiver-start-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  let err = ''
  let out = ''
  const proc = spawn(process.execPath, [join(cwd, 'src', 'start.js')], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', PORT: String(port), DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  proc.stdout.on('data', (d: Buffer) => { out += d.toString() })
  proc.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  t.teardown(() => { if (proc.exitCode === null) proc.kill('SIGKILL') })
  // A build (tsc over the whole tree) comes first in the stale case: minutes on a loaded machine.
  await waitFor(async () => proc.exitCode !== null || (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0)) === 200,
    'a healthy gateway', { timeoutMs: 400_000, everyMs: 100 })
  t.equal(proc.exitCode, null, `healthy\n${err}`)
  t.match(out, /Authorization: Bearer/, 'the local provider printed its tokens')
  proc.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM: graceful exit 0')
  return err
}

tap.test('npm start runs dist/ as it is when the build is newer than every source', async (t) => {
  t.ok(existsSync(DIST), 'dist/ is built (npm ci runs the prepare script)')
  const before = statSync(DIST)
  utimesSync(DIST, before.atime, new Date(Date.now() + 3600_000))
  t.teardown(() => utimesSync(DIST, before.atime, before.mtime))
  const err = await startIn(t, ROOT)
  t.notMatch(err, BUILDING, 'no build')
})

tap.test('npm start builds first when a source is newer than dist/, then runs the new build', { timeout: 600_000 }, async (t) => {
  const dir = checkoutCopy(t)
  const server = join(dir, 'dist', 'src', 'server.js')
  // The deepest route file, edited after the build: the walk must reach it.
  const routes = readdirSync(join(dir, 'routes'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))
  const edited = join(dir, 'routes', routes.sort((a, b) => b.split(sep).length - a.split(sep).length)[0])
  const built = statSync(server).mtimeMs
  const later = new Date(built + 1000)
  utimesSync(edited, later, later)
  const err = await startIn(t, dir)
  t.match(err, `quiver: sources changed since the last build: ${BUILDING}`, edited)
  t.ok(statSync(server).mtimeMs > built, 'dist/ was rebuilt')
  t.notOk(existsSync(join(dir, 'dist', 'vendor')), 'a plain tsc output: no vendor bundles')
})
