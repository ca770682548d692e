import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, type Gateway } from '../../helpers/gateway.ts'
import { startS3rver, type S3rverHandle } from '../../helpers/s3rver.ts'
import { createLocalIssuer, loadOrCreateLocalKeys, type LocalIssuer } from '../../../src/auth/local-keys.ts'
import type { Role } from '../../../src/auth/types.ts'
import { ensureBuilt, SHIPPED_ROOT, SHIPPED_SERVER } from './shipped.ts'

/** Teardown list standing in for tap's `t`: the helpers register cleanups on it. */
export class Scope {
  private readonly fns: Array<() => unknown> = []
  teardown (fn: () => unknown): void { this.fns.push(fn) }
  async close (): Promise<void> {
    while (this.fns.length > 0) {
      const fn = this.fns.pop()!
      try { await fn() } catch {}
    }
  }
}

export interface BenchGateway extends Gateway {
  /** Mints a token signed with the gateway's local key (the same path `POST /v1/admin/tokens` uses). */
  token (roles?: Role[], subject?: string): string
  issuer: LocalIssuer
}

/**
 * Starts the shipped build as production runs it (`node dist/src/server.js`, built first when a
 * source is newer), like test/helpers/gateway.ts but with extra node flags (--cpu-prof is refused
 * in NODE_OPTIONS) and the local auth provider's signing key created in DATA_DIR first, so this
 * process can mint tokens the gateway accepts without an admin round trip. (Until 2026-12-03 it
 * ran the TypeScript sources under tsx.) The matrix and cold start go through `npm start` itself.
 */
export async function launchGateway (scope: Scope, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<BenchGateway> {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'quiver-bench-'))
  if (!env.DATA_DIR) scope.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const keys = loadOrCreateLocalKeys(dataDir)
  const issuer = createLocalIssuer(keys, env.SCOPE_PREFIX ?? 'boilstream')
  const port = await freePort()
  let out = ''
  let err = ''
  ensureBuilt()
  const proc = spawn(process.execPath, [...nodeArgs, SHIPPED_SERVER], {
    cwd: SHIPPED_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...env, PORT: String(port), DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  // Keep only the tails: a long run must not accumulate the gateway's whole output here.
  proc.stdout!.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-20_000) })
  proc.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-20_000) })
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  scope.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL')
      await exited
    }
  })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`gateway exited during startup (${proc.exitCode})\nstdout:\n${out}\nstderr:\n${err}`)
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) break
    } catch {}
    if (Date.now() > deadline) throw new Error(`gateway did not become healthy in time\nstderr:\n${err}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url,
    port,
    dataDir,
    proc,
    stdout: () => out,
    stderr: () => err,
    kill: (s = 'SIGTERM') => proc.kill(s),
    exited,
    issuer,
    token: (roles: Role[] = ['write'], subject = 'bench') => issuer.mint({ subject, roles, ttlSeconds: 3600 }).token
  }
}

/** Stops the gateway with SIGTERM (so it flushes and --cpu-prof writes its profile) and waits. */
export async function stopGateway (gw: Gateway, timeoutMs = 30_000): Promise<number | string> {
  if (gw.proc.exitCode !== null || gw.proc.signalCode !== null) return await gw.exited
  gw.kill('SIGTERM')
  const timer = setTimeout(() => gw.kill('SIGKILL'), timeoutMs)
  const code = await gw.exited
  clearTimeout(timer)
  return code
}

export async function launchS3 (scope: Scope): Promise<S3rverHandle> {
  return await startS3rver(scope, { bucket: 'quiver-bench' })
}

/** Reads one Prometheus metric family from the gateway's /metrics as label-string → value. */
export async function scrape (url: string, name: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+([^\s]+)/.exec(line)
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]))
  }
  return out
}

export function sumMetric (m: Map<string, number>, labelFilter = ''): number {
  let s = 0
  for (const [k, v] of m) if (k.includes(labelFilter)) s += v
  return s
}
