import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { startS3rver, type S3rverHandle } from '../../helpers/s3rver.ts'
import { createLocalIssuer, loadOrCreateLocalKeys, type LocalIssuer } from '../../../src/auth/local-keys.ts'
import type { Role } from '../../../src/auth/types.ts'

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
 * Starts the real server process (as `npm start` does) with the local auth provider. The signing
 * key is created in DATA_DIR before the start, so this process can mint tokens the gateway accepts
 * without an admin round trip.
 */
export async function launchGateway (scope: Scope, env: Record<string, string> = {}): Promise<BenchGateway> {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'quiver-bench-'))
  if (!env.DATA_DIR) scope.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const keys = loadOrCreateLocalKeys(dataDir)
  const issuer = createLocalIssuer(keys, env.SCOPE_PREFIX ?? 'boilstream')
  const gw = await startGateway(scope, { LOG_LEVEL: 'warn', ...env, DATA_DIR: dataDir }, { timeoutMs: 60_000 })
  return {
    ...gw,
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
