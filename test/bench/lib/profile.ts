import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'

interface CpuProfile {
  nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number } }>
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

const ROOT = process.cwd()

function where (url: string, line: number): string {
  if (url === '') return ''
  const path = url.replace(/^file:\/\//, '')
  const short = path.includes('node_modules/') ? path.slice(path.lastIndexOf('node_modules/') + 13) : relative(ROOT, path)
  return `${short}:${line + 1}`
}

/** Self time per function (name + location) of one .cpuprofile, largest first. */
export function selfTimes (file: string): { totalMs: number, idleMs: number, top: Array<{ fn: string, ms: number, pct: number }> } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const acc = new Map<string, number>()
  let total = 0
  let idle = 0
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i])!
    const dt = (p.timeDeltas[i] ?? 0) / 1000
    total += dt
    const name = n.callFrame.functionName || '(anonymous)'
    // piscina parks idle workers in Atomics.wait inside this JS function: waiting, not work.
    if (name === '(idle)' || name === 'atomicsWaitLoop') { idle += dt; continue }
    const key = `${name} ${where(n.callFrame.url, n.callFrame.lineNumber)}`.trim()
    acc.set(key, (acc.get(key) ?? 0) + dt)
  }
  const busy = total - idle
  const top = [...acc.entries()].sort((a, b) => b[1] - a[1]).map(([fn, ms]) => ({ fn, ms, pct: busy > 0 ? 100 * ms / busy : 0 }))
  return { totalMs: total, idleMs: idle, top }
}

/** One line per thread profile found in `dir`, then its `n` heaviest self-time functions. */
export function summariseProfiles (dir: string, n: number): string[] {
  let files: string[]
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f))
  } catch {
    return [`no profiles in ${dir}`]
  }
  files.sort((a, b) => statSync(b).size - statSync(a).size)
  const out: string[] = []
  for (const f of files) {
    const s = selfTimes(f)
    const busy = s.totalMs - s.idleMs
    if (busy < 50) continue
    out.push(`profile ${f}: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${(busy / 1000).toFixed(1)} s busy (${(100 * busy / s.totalMs).toFixed(0)} %); top self time:`)
    for (const t of s.top.slice(0, n)) out.push(`    ${t.pct.toFixed(1).padStart(5)} %  ${t.ms.toFixed(0).padStart(7)} ms  ${t.fn}`)
  }
  return out
}

if (process.argv[1] && process.argv[1].endsWith('profile.ts')) {
  for (const line of summariseProfiles(process.argv[2] ?? '.', Number(process.argv[3] ?? 20))) console.log(line)
}

/** Node flags that make a gateway write one .cpuprofile per thread into a fresh directory at exit. */
export function profileArgs (): { dir: string, args: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-prof-'))
  return { dir, args: ['--cpu-prof', `--cpu-prof-dir=${dir}`] }
}
