import { spawn, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../helpers/gateway.ts'
import { cpuOf } from './lib/proc.ts'
import { log, median, type BenchResult } from './lib/table.ts'
import type { BenchOptions } from './throughput.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const TARGET_MS = 1500

/** CPU seconds of a process and all its live descendants (npm → sh → node). */
function treeCpu (root: number): number {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)])
    } catch {}
  }
  let total = 0
  const walk = (pid: number): void => {
    total += cpuOf(pid)
    for (const c of children.get(pid) ?? []) walk(c)
  }
  walk(root)
  return total
}

/**
 * Milliseconds from spawn to the first 200 on /healthz (polled every 5 ms), then the process
 * group is killed. `command` is the program and its arguments, run in the repository.
 */
async function timeToHealthy (command: string[], dataDir: string): Promise<{ ms: number, cpuMs: number }> {
  const port = await freePort()
  const t0 = performance.now()
  const proc = spawn(command[0], command.slice(1), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', PORT: String(port), DATA_DIR: dataDir },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true
  })
  let err = ''
  proc.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-2000) })
  const exited = new Promise((resolve) => proc.once('exit', resolve))
  try {
    const deadline = t0 + 30_000
    while (performance.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}: ${err.trim().split('\n').slice(-2).join(' / ')}`)
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`)
        if (res.status === 200) return { ms: performance.now() - t0, cpuMs: treeCpu(proc.pid!) * 1000 }
      } catch {}
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    throw new Error('not healthy within 30 s')
  } finally {
    try { process.kill(-proc.pid!, 'SIGKILL') } catch {}
    await exited
  }
}

/**
 * `npm start` itself (the npm CLI, then src/start.js running the fresh build): the target. For
 * reference, `node dist/src/server.js` (the container's command) and `npm run dev` (tsx, no
 * build), each with a fresh and an existing DATA_DIR.
 */
export async function coldStart (opts: BenchOptions): Promise<BenchResult> {
  const notes: string[] = [`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`]
  const runs = opts.quick ? 2 : 3
  const figures: BenchResult['figures'] = []
  const distEntry = join(ROOT, 'dist', 'src', 'server.js')
  // Always rebuild: `npm start` runs dist/ only when it is newer than every source file.
  let distOk = false
  if (!distOk) {
    log('cold start: npm run build')
    try {
      execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'pipe', timeout: 180_000 })
      distOk = existsSync(distEntry)
    } catch (err) {
      const out = String((err as { stdout?: Buffer }).stdout ?? '') + String((err as { stderr?: Buffer }).stderr ?? '')
      notes.push(`npm run build failed: ${out.split('\n').filter(Boolean).slice(0, 3).join(' / ')}`)
      distOk = existsSync(distEntry)
      if (distOk) notes.push(`using the existing dist/ from ${statSync(distEntry).mtime.toISOString()}`)
    }
  }
  const variants: Array<{ name: string, command: string[], target: boolean }> = []
  if (distOk) {
    variants.push(
      { name: 'npm start', command: ['npm', 'start', '--silent'], target: true },
      { name: 'node dist/src/server.js', command: [process.execPath, distEntry], target: false }
    )
  } else notes.push('dist build unavailable: only the tsx start was measured')
  variants.push({ name: 'npm run dev (tsx)', command: ['npm', 'run', 'dev', '--silent'], target: false })
  for (const v of variants) {
    // Fresh starts each get a new DATA_DIR; restarts reuse the first fresh start's directory.
    const fresh: number[] = []
    const freshCpu: number[] = []
    const again: number[] = []
    const againCpu: number[] = []
    const dirs: string[] = []
    try {
      for (let i = 0; i < runs; i++) {
        const dir = mkdtempSync(join(tmpdir(), 'quiver-cold-'))
        dirs.push(dir)
        const r = await timeToHealthy(v.command, dir)
        fresh.push(r.ms)
        freshCpu.push(r.cpuMs)
      }
      for (let i = 0; i < runs; i++) {
        const r = await timeToHealthy(v.command, dirs[0])
        again.push(r.ms)
        againCpu.push(r.cpuMs)
      }
    } catch (err) {
      notes.push(`${v.name}: ${(err as Error).message}`)
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true })
    }
    for (const [kind, times, cpu] of [['first start (new DATA_DIR)', fresh, freshCpu], ['restart (existing DATA_DIR)', again, againCpu]] as const) {
      const label = `${v.name}, ${kind}`
      log(`cold start: ${label}: ${times.map((t) => t.toFixed(0)).join(', ')} ms`)
      const target = v.target ? { target: `≤ ${TARGET_MS} ms` } : {}
      if (times.length === 0) {
        figures.push({ name: label, value: 'n/a', ...target, ...(v.target ? { pass: false } : {}) })
        continue
      }
      const m = median([...times])
      figures.push({ name: `${label} median of ${times.length}`, value: m, unit: 'ms', ...target, ...(v.target ? { pass: m <= TARGET_MS } : {}) })
      figures.push({ name: `${label} CPU time to healthy (median)`, value: median([...cpu]), unit: 'ms' })
    }
  }
  notes.push('spawn of the node process → first 200 from GET /healthz, polled every 5 ms; local storage, local auth provider')
  notes.push('CPU time to healthy = user + system CPU of the process tree (npm, sh, node; all threads) when /healthz first answered: what the start costs regardless of how busy the machine is')
  notes.push('the target is `npm start` as a newcomer types it, the npm CLI included (about 0.3 s here); the other two are for reference')
  return { bench: 'cold start', figures, notes }
}
