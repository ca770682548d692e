import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import { createLocalIssuer, loadOrCreateLocalKeys } from '../../src/auth/local-keys.ts'
import { createAuthenticator } from '../../src/auth/verifier.ts'
import { loadConfig } from '../../config/load.ts'
import { cpuOf, CpuMeter, pinnedCommand } from './lib/proc.ts'
import { ask } from './lib/ask.ts'
import { log, median, type BenchResult } from './lib/table.ts'
import type { BenchOptions } from './throughput.ts'

const SERVER = fileURLToPath(new URL('./lib/auth-server.ts', import.meta.url))
const GENERATOR = fileURLToPath(new URL('./lib/raw-load-child.ts', import.meta.url))
const CONNECTIONS = 16
const DEPTH = 4

/** Closed-loop load: `CONNECTIONS × DEPTH` requests in flight for `ms`, bounded by `max` requests. */
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
  await Promise.all(Array.from({ length: CONNECTIONS * DEPTH }, loop))
  return { rps: n / ((performance.now() - t0) / 1000), n, bad }
}

/**
 * What the hook does per request with a cached token, in this process: take the token from a
 * fresh header string (as each request brings one) and look it up in the verified-token cache.
 * No network, no scheduler: µs per call, stable even on a busy machine.
 */
async function hookCostUs (dataDir: string, token: string): Promise<number> {
  const auth = createAuthenticator(loadConfig({ DATA_DIR: dataDir, AUTH_PROVIDERS: 'local' }, { dotenv: false }), { localKeys: loadOrCreateLocalKeys(dataDir) })
  try {
    // The gateway verifies through @fastify/jwt, then keeps the principal: the same cache entry here.
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>
    auth.remember(token, auth.accept(claims), claims, Infinity)
    const header = Buffer.from(`Bearer ${token}`)
    const n = 500_000
    let t = 0
    let hits = 0
    for (let round = 0; round < 2; round++) { // first round warms up
      const t0 = performance.now()
      for (let i = 0; i < n; i++) {
        // A new string per call, made from bytes as the HTTP parser makes it (no cached hash).
        const h = header.toString('latin1')
        if (h.startsWith('Bearer ') && auth.cached(h.slice(7)) !== undefined) hits++
      }
      t = performance.now() - t0
    }
    if (hits !== 2 * n) throw new Error(`cached lookups missed: ${2 * n - hits}`)
    return t * 1000 / n
  } finally {
    await auth.close()
  }
}

type Side = 'open' | 'openH' | 'hook' | 'auth'

/**
 * Auth overhead: the same tiny route with and without `fastify.authenticate`, in the real gateway
 * build (all plugins and global hooks). The server runs pinned to core 0 and a wrk-like generator
 * (pre-serialized pipelined requests) to core 1, so the server is the bottleneck and neither
 * steals the other's core; rounds alternate the three sides so drift hits all alike, and the
 * result is the median of per-round ratios. A reused token exercises the verified-token cache
 * (the steady state of a service); fresh tokens show the cost of a full RS256 verification.
 */
export async function authOverhead (opts: BenchOptions): Promise<BenchResult> {
  const notes: string[] = [`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`]
  const dataDir = mkdtempSync(join(tmpdir(), 'quiver-auth-'))
  const issuer = createLocalIssuer(loadOrCreateLocalKeys(dataDir), 'boilstream')
  const twoCores = cpus().length >= 2
  const server = pinnedCommand('0', [process.execPath, '--import', 'tsx', SERVER])
  const generator = pinnedCommand(twoCores ? '1' : '0', [process.execPath, '--import', 'tsx', GENERATOR])
  const proc = spawn(server.argv[0], server.argv.slice(1), {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', DATA_DIR: dataDir, AUTH_PROVIDERS: 'local' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const gen = spawn(generator.argv[0], generator.argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const exited = [proc, gen].map((p) => new Promise((resolve) => p.once('exit', resolve)))
  try {
    const port = await new Promise<number>((resolve, reject) => {
      // The local provider prints its banner first; the port line is the JSON one.
      createInterface({ input: proc.stdout! }).on('line', (l) => { if (l.startsWith('{"port"')) resolve((JSON.parse(l) as { port: number }).port) })
      proc.once('exit', (code) => reject(new Error(`bench auth server exited with ${code}`)))
    })
    // `cpuOf` reads the pid it is given: with taskset in front, that is still the server (taskset execs it).
    const token = issuer.mint({ subject: 'bench', roles: ['read'], ttlSeconds: 3600 }).token
    const request = (path: string, bearer: boolean): string =>
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${bearer ? `Authorization: Bearer ${token}\r\n` : ''}\r\n`
    const load = (req: string, ms: number): Promise<{ rps: number, ok: number, other: number, cpuS: number }> =>
      ask(gen, { port, request: req, connections: CONNECTIONS, depth: DEPTH, ms }, 'load generator')
    const sides: Record<Side, string> = {
      open: request('/bench/open', false),
      openH: request('/bench/open', true),
      hook: request('/bench/hook', true),
      auth: request('/bench/auth', true)
    }
    // Short rounds, many of them: this VM's speed drifts by ±10 % over seconds, and a ratio taken
    // within half a second sees little of it; the median of many such ratios sees less.
    const roundMs = opts.quick ? 400 : 500
    const rounds = opts.quick ? 12 : 40
    log('auth overhead: warm-up')
    for (const side of Object.keys(sides) as Side[]) await load(sides[side], 1500)
    const rps: Record<Side, number[]> = { open: [], openH: [], hook: [], auth: [] }
    const cpuPerReq: Record<Side, number[]> = { open: [], openH: [], hook: [], auth: [] }
    const vsHook: number[] = []
    const vsHeader: number[] = []
    const vsBare: number[] = []
    let bad = 0
    let generatorCpu = 0
    let wall = 0
    const cpu = new CpuMeter(proc.pid!).start()
    const order: Side[] = ['open', 'openH', 'hook', 'auth']
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round so no side always runs first or last.
      const got = {} as Record<Side, number>
      for (let i = 0; i < order.length; i++) {
        const side = order[(i + r) % order.length]
        const c0 = cpuOf(proc.pid!)
        const res = await load(sides[side], roundMs)
        cpuPerReq[side].push((cpuOf(proc.pid!) - c0) / Math.max(1, res.ok + res.other))
        rps[side].push(res.rps)
        got[side] = res.rps
        bad += res.other
        generatorCpu += res.cpuS
        wall += roundMs / 1000
      }
      vsHook.push(got.auth / got.hook)
      vsHeader.push(got.auth / got.openH)
      vsBare.push(got.auth / got.open)
      if (r % 8 === 7 || r === rounds - 1) log(`auth overhead: round ${r + 1}/${rounds}: open ${got.open.toFixed(0)}, open + header ${got.openH.toFixed(0)}, empty hook ${got.hook.toFixed(0)}, auth ${got.auth.toFixed(0)} req/s`)
    }
    const c = cpu.stop()
    const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
    const extra: Record<string, number> = {}
    for (const [name, req] of [['healthz', request('/healthz', false)], ['whoami', request('/v1/whoami', true)]]) {
      const res = await load(req, 3000)
      extra[name] = res.rps
      bad += res.other
    }
    log('auth overhead: fresh tokens (full RS256 verification each)')
    const freshCount = opts.quick ? 1000 : 3000
    const fresh = Array.from({ length: freshCount }, (_, i) => issuer.mint({ subject: `bench-${i}`, roles: ['read'], ttlSeconds: 3600 }).token)
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS, pipelining: DEPTH })
    const freshRes = await hammer(pool, '/bench/auth', fresh, 60_000, freshCount)
    bad += freshRes.bad
    await pool.close()
    const hookUs = await hookCostUs(dataDir, token)
    const lossHook = 100 * (1 - median(vsHook))
    const lossHeader = 100 * (1 - median(vsHeader))
    const lossBare = 100 * (1 - median(vsBare))
    const cpuOpenH = avg(cpuPerReq.openH)
    const cpuAuth = avg(cpuPerReq.auth)
    if (bad > 0) notes.push(`${bad} non-200 answers (not counted)`)
    notes.push(`closed loop, ${CONNECTIONS} connections × ${DEPTH} pipelined requests, pre-serialized (wrk-like); ${rounds} rounds of ${roundMs / 1000} s per side, order rotated each round`)
    notes.push(server.pinned && twoCores
      ? `server pinned to CPU 0, generator to CPU 1 (taskset): server ${c.gatewayCores.toFixed(2)} cores busy, generator ${(generatorCpu / wall).toFixed(2)}`
      : `not pinned (${server.pinned ? 'one CPU' : 'no taskset'}): server and generator share the cores, so the pair is noisier`)
    notes.push(`the token is ${token.length} characters (a Cognito access token is 800–1,100); "open + header" sends it to the open route, which ignores it, so the two ratios separate the hook's work from receiving the header`)
    notes.push('/bench/open and /bench/auth are registered by test/bench/lib/auth-server.ts on the real app; only the onRequest auth hook differs')
    return {
      bench: 'auth overhead',
      notes,
      figures: [
        { name: 'same route, no auth hook, no token sent', value: avg(rps.open), unit: 'req/s' },
        { name: 'same route, no auth hook, token sent', value: avg(rps.openH), unit: 'req/s' },
        { name: 'same route, an empty onRequest hook, token sent', value: avg(rps.hook), unit: 'req/s' },
        { name: 'same route, authenticate (cached token)', value: avg(rps.auth), unit: 'req/s' },
        { name: 'req/s lost to the hook\'s own work (vs the empty hook)', value: lossHook, unit: '%' },
        { name: 'req/s lost to the auth hook (same request bytes)', value: lossHeader, unit: '%', target: '≤ 3 %', pass: lossHeader <= 3 },
        { name: 'req/s lost to auth, vs a request without a token', value: lossBare, unit: '%', target: '≤ 3 %', pass: lossBare <= 3 },
        { name: 'per-round loss (same bytes), min … max', value: `${(100 * (1 - Math.max(...vsHeader))).toFixed(1)} … ${(100 * (1 - Math.min(...vsHeader))).toFixed(1)}`, unit: '%' },
        { name: 'server CPU per request: open + token / authenticate', value: `${(cpuOpenH * 1e6).toFixed(1)} / ${(cpuAuth * 1e6).toFixed(1)}`, unit: 'µs' },
        { name: 'in-process: bearer prefix + cached-token lookup', value: hookUs, unit: 'µs/call' },
        { name: 'same route, fresh token each request (RS256 verify)', value: freshRes.rps, unit: 'req/s' },
        { name: 'GET /healthz', value: extra.healthz, unit: 'req/s' },
        { name: 'GET /v1/whoami (token)', value: extra.whoami, unit: 'req/s' },
        { name: 'whoami vs healthz', value: 100 * (1 - extra.whoami / extra.healthz), unit: '% fewer' }
      ]
    }
  } finally {
    gen.send({ cmd: 'exit' })
    proc.kill('SIGTERM')
    const timer = setTimeout(() => { proc.kill('SIGKILL'); gen.kill('SIGKILL') }, 5000)
    await Promise.all(exited)
    clearTimeout(timer)
    rmSync(dataDir, { recursive: true, force: true })
  }
}
