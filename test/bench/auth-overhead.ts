import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import { createLocalIssuer, loadOrCreateLocalKeys } from '../../src/auth/local-keys.ts'
import { createAuthenticator } from '../../src/auth/verifier.ts'
import { extractToken } from '../../src/auth/extract-token.ts'
import { loadConfig } from '../../config/load.ts'
import { cpuOf, CpuMeter } from './lib/proc.ts'
import { log, median, type BenchResult } from './lib/table.ts'
import type { BenchOptions } from './throughput.ts'

const SERVER = fileURLToPath(new URL('./lib/auth-server.ts', import.meta.url))
const CONNECTIONS = 16
const PIPELINING = 4

/** Closed-loop load: `CONNECTIONS × PIPELINING` requests in flight for `ms`, bounded by `max` requests. */
async function hammer (pool: Pool, path: string, tokens: string[] | null, ms: number, max: number): Promise<{ rps: number, n: number, bad: number }> {
  let n = 0
  let bad = 0
  let i = 0
  const t0 = performance.now()
  const end = t0 + ms
  const loop = async (): Promise<void> => {
    while (performance.now() < end && i < max) {
      const headers: Record<string, string> = tokens ? { authorization: `Bearer ${tokens[i % tokens.length]}` } : {}
      i++
      const r = await pool.request({ method: 'GET', path, headers })
      await r.body.dump()
      if (r.statusCode === 200) n++
      else bad++
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS * PIPELINING }, loop))
  return { rps: n / ((performance.now() - t0) / 1000), n, bad }
}

/**
 * What the hook does per request with a cached token, in this process: extract the bearer token
 * from a fresh header string (as each request brings one) and look it up in the verified-token
 * cache. No network, no scheduler: µs per call, stable even on a busy machine.
 */
async function hookCostUs (dataDir: string, token: string): Promise<number> {
  const auth = createAuthenticator(loadConfig({ DATA_DIR: dataDir, AUTH_PROVIDERS: 'local' }, { dotenv: false }))
  try {
    await auth.verify(token)
    const header = `Bearer ${token}`
    const n = 200_000
    let t = 0
    for (let round = 0; round < 2; round++) { // first round warms up
      const t0 = performance.now()
      for (let i = 0; i < n; i++) {
        // A new string per call, as a parsed request header would be (no cached hash).
        await auth.verify(extractToken({ headers: { authorization: header.slice(0, 7) + header.slice(7) } }))
      }
      t = performance.now() - t0
    }
    return t * 1000 / n
  } finally {
    await auth.close()
  }
}

/**
 * Auth overhead: the same tiny route with and without `fastify.authenticate`, in the real gateway
 * build (all plugins and global hooks), alternated in rounds so drift hits both alike. A reused
 * token exercises the verified-token cache (the steady state of a service); fresh tokens show the
 * cost of a full RS256 verification for comparison. /healthz vs /v1/whoami is printed too.
 */
export async function authOverhead (opts: BenchOptions): Promise<BenchResult> {
  const notes: string[] = [`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`]
  const dataDir = mkdtempSync(join(tmpdir(), 'quiver-auth-'))
  const issuer = createLocalIssuer(loadOrCreateLocalKeys(dataDir), 'boilstream')
  const proc = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', DATA_DIR: dataDir, AUTH_PROVIDERS: 'local' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const exited = new Promise((resolve) => proc.once('exit', resolve))
  try {
    const port = await new Promise<number>((resolve, reject) => {
      // The local provider prints its banner first; the port line is the JSON one.
      createInterface({ input: proc.stdout! }).on('line', (l) => { if (l.startsWith('{"port"')) resolve((JSON.parse(l) as { port: number }).port) })
      proc.once('exit', (code) => reject(new Error(`bench auth server exited with ${code}`)))
    })
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS, pipelining: PIPELINING })
    const token = issuer.mint({ subject: 'bench', roles: ['read'], ttlSeconds: 3600 }).token
    const roundMs = opts.quick ? 1500 : 2000
    const rounds = opts.quick ? 4 : 10
    const max = 2_000_000
    log('auth overhead: warm-up')
    await hammer(pool, '/bench/open', null, 1500, max)
    await hammer(pool, '/bench/auth', [token], 1500, max)
    const sums = { open: 0, auth: 0, healthz: 0, whoami: 0 }
    const ratios: number[] = []
    const cpuPerReq = { open: [] as number[], auth: [] as number[] }
    let bad = 0
    const cpu = new CpuMeter(proc.pid!).start()
    for (let r = 0; r < rounds; r++) {
      // Alternate the order each round so neither side always runs first; the machine's drift
      // between rounds cancels in the per-round ratio.
      const order = r % 2 === 0 ? ['open', 'auth'] : ['auth', 'open']
      const got: Record<string, number> = {}
      for (const k of order) {
        const c0 = cpuOf(proc.pid!)
        const res = await hammer(pool, `/bench/${k}`, k === 'auth' ? [token] : null, roundMs, max)
        cpuPerReq[k as 'open' | 'auth'].push((cpuOf(proc.pid!) - c0) / Math.max(1, res.n + res.bad))
        got[k] = res.rps
        sums[k as 'open' | 'auth'] += res.rps
        bad += res.bad
      }
      ratios.push(got.auth / got.open)
      log(`auth overhead: round ${r + 1}/${rounds}: open ${got.open.toFixed(0)} req/s, auth ${got.auth.toFixed(0)} req/s`)
    }
    const c = cpu.stop()
    for (let r = 0; r < Math.max(1, rounds / 2); r++) {
      sums.healthz += (await hammer(pool, '/healthz', null, roundMs, max)).rps
      const w = await hammer(pool, '/v1/whoami', [token], roundMs, max)
      sums.whoami += w.rps
      bad += w.bad
    }
    log('auth overhead: fresh tokens (full RS256 verification each)')
    const freshCount = opts.quick ? 1000 : 3000
    const fresh = Array.from({ length: freshCount }, (_, i) => issuer.mint({ subject: `bench-${i}`, roles: ['read'], ttlSeconds: 3600 }).token)
    const freshRes = await hammer(pool, '/bench/auth', fresh, 60_000, freshCount)
    bad += freshRes.bad
    await pool.close()
    const hookUs = await hookCostUs(dataDir, token)
    const open = sums.open / rounds
    const auth = sums.auth / rounds
    const loss = 100 * (1 - median(ratios))
    // Server CPU per request: what req/s a dedicated core would give is 1 / this, and unlike
    // req/s on a shared, busy machine it hardly depends on what else runs meanwhile.
    const cpuOpen = cpuPerReq.open.reduce((a, b) => a + b, 0) / cpuPerReq.open.length
    const cpuAuth = cpuPerReq.auth.reduce((a, b) => a + b, 0) / cpuPerReq.auth.length
    const cpuLoss = 100 * (1 - cpuOpen / cpuAuth)
    const hz = sums.healthz / Math.max(1, rounds / 2)
    const who = sums.whoami / Math.max(1, rounds / 2)
    if (bad > 0) notes.push(`${bad} non-200 answers (not counted)`)
    notes.push(`closed loop, undici Pool ${CONNECTIONS} connections × pipelining ${PIPELINING}, ${rounds} alternating rounds of ${roundMs / 1000} s per side`)
    notes.push(`server CPU during the paired rounds ${c.gatewayCores.toFixed(2)} cores, generator ${c.generatorCores.toFixed(2)} cores (both on the same 2 cores)`)
    notes.push('/bench/open and /bench/auth are registered by test/bench/lib/auth-server.ts on the real app; only the onRequest auth hook differs')
    return {
      bench: 'auth overhead',
      notes,
      figures: [
        { name: 'same route, no auth hook', value: open, unit: 'req/s' },
        { name: 'same route, authenticate (cached token)', value: auth, unit: 'req/s' },
        { name: 'requests/s lost to auth (median of per-round ratios)', value: loss, unit: '%', target: '≤ 3 %', pass: loss <= 3 },
        { name: 'server CPU per request, no auth hook', value: cpuOpen * 1e6, unit: 'µs' },
        { name: 'server CPU per request, authenticate (cached token)', value: cpuAuth * 1e6, unit: 'µs' },
        { name: 'capacity lost to auth (from CPU per request)', value: cpuLoss, unit: '%', target: '≤ 3 %', pass: cpuLoss <= 3 },
        { name: 'in-process: extract + verify with a cached token', value: hookUs, unit: 'µs/call' },
        { name: 'in-process hook cost / server CPU per open request', value: 100 * hookUs / (cpuOpen * 1e6), unit: '%', target: '≤ 3 %', pass: hookUs / (cpuOpen * 1e6) <= 0.03 },
        { name: 'per-round loss, min … max', value: `${(100 * (1 - Math.max(...ratios))).toFixed(1)} … ${(100 * (1 - Math.min(...ratios))).toFixed(1)}`, unit: '%' },
        { name: 'same route, fresh token each request (RS256 verify)', value: freshRes.rps, unit: 'req/s' },
        { name: 'GET /healthz', value: hz, unit: 'req/s' },
        { name: 'GET /v1/whoami (token)', value: who, unit: 'req/s' },
        { name: 'whoami vs healthz', value: 100 * (1 - who / hz), unit: '% fewer' }
      ]
    }
  } finally {
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
    rmSync(dataDir, { recursive: true, force: true })
  }
}
