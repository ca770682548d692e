import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../helpers/gateway.ts'
import { createLocalIssuer, loadOrCreateLocalKeys } from '../../../src/auth/local-keys.ts'
import type { Role } from '../../../src/auth/types.ts'
import type { Scope } from './gateway.ts'
import { log } from './table.ts'

// BENCH_ROOT: another checkout's build to run instead (e.g. the commit before a change, in the same run).
const ROOT = process.env.BENCH_ROOT ?? fileURLToPath(new URL('../../..', import.meta.url))

/** The shipped build's entry point: what `node dist/src/server.js` (production, the Docker image) runs. */
export const SHIPPED_ROOT = ROOT
export const SHIPPED_SERVER = join(ROOT, 'dist', 'src', 'server.js')

export interface ShippedGateway {
  url: string
  /** The server process itself (under npm and its shell): the one whose CPU and RSS count. */
  pid: number
  /** A token for `subject` (default 'bench'): several subjects are several principals (per-principal limits). */
  token: (roles?: Role[], subject?: string) => string
  stop: () => Promise<void>
  stderr: () => string
}

// One check per bench process: the sources do not change under a run, and each check walks the tree in a child process.
let checked = false

/** Builds dist/ when a source is newer than it, as `npm start` would otherwise fall back to tsx. */
export function ensureBuilt (): void {
  if (checked) return
  checked = true
  const out = execFileSync(process.execPath, ['-e', `
    const { statSync, readdirSync } = require('node:fs'); const { join, extname } = require('node:path')
    const kinds = new Set(['.ts', '.js', '.html', '.css', '.json'])
    const newest = (d) => readdirSync(d, { withFileTypes: true }).reduce((m, e) => Math.max(m, e.isDirectory() ? newest(join(d, e.name)) : kinds.has(extname(e.name)) ? statSync(join(d, e.name)).mtimeMs : 0), 0)
    let built = 0; try { built = statSync('dist/src/server.js').mtimeMs } catch {}
    process.stdout.write(String(built === 0 || ['src', 'plugins', 'routes', 'config'].some((d) => newest(d) > built)))`], { cwd: ROOT }).toString()
  if (out === 'true') {
    log('dist is older than the sources: npm run build')
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' })
  }
}

function childrenOf (pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/** The deepest node process under `pid` (npm → sh → node src/start.js). */
function serverPid (pid: number): number {
  let p = pid
  for (;;) {
    const kids = childrenOf(p)
    if (kids.length === 0) return p
    p = kids[0]
  }
}

/**
 * The gateway as the README starts it: `npm start` (src/start.js, which runs dist/). With
 * `cpuProf`, `node --cpu-prof src/start.js` instead (npm refuses --cpu-prof in NODE_OPTIONS);
 * start.js loads dist in its own process, so the profile is of the shipped code.
 */
export async function launchShipped (scope: Scope, env: Record<string, string>, cpuProfDir?: string): Promise<ShippedGateway> {
  const dataDir = mkdtempSync(join(tmpdir(), 'quiver-matrix-'))
  scope.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const issuer = createLocalIssuer(loadOrCreateLocalKeys(dataDir), 'boilstream')
  const port = await freePort()
  const argv = cpuProfDir ? [process.execPath, '--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, 'src/start.js'] : ['npm', 'start', '--silent']
  let err = ''
  const proc = spawn(argv[0], argv.slice(1), {
    cwd: ROOT,
    // GW_NODE_OPTIONS (e.g. `--expose-gc --require <memory logger>`) reaches the gateway as NODE_OPTIONS.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...(process.env.GW_NODE_OPTIONS ? { NODE_OPTIONS: process.env.GW_NODE_OPTIONS } : {}), ...env, PORT: String(port), DATA_DIR: dataDir },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  proc.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-20_000) })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`gateway exited during startup (${proc.exitCode}): ${err.slice(-500)}`)
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) break
    } catch {}
    if (Date.now() > deadline) throw new Error('gateway did not become healthy in time')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const pid = serverPid(proc.pid!)
  const exited = (p: number) => { try { return statSync(`/proc/${p}`) === undefined } catch { return true } }
  const stop = async (): Promise<void> => {
    // SIGTERM to the server itself: npm would leave at once without passing it on.
    try { process.kill(pid, 'SIGTERM') } catch {}
    const end = Date.now() + 30_000
    while (!exited(pid) && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 50))
    if (!exited(pid)) try { process.kill(pid, 'SIGKILL') } catch {}
    if (proc.exitCode === null) proc.kill('SIGKILL')
  }
  scope.teardown(stop)
  return { url, pid, stop, stderr: () => err, token: (roles: Role[] = ['write', 'admin'], subject = 'bench') => issuer.mint({ subject, roles, ttlSeconds: 3600 }).token }
}
