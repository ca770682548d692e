import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

/** Kernel clock ticks per second for /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
  } catch {
    return 100
  }
})()

/** Resident set size of a process in bytes (VmRSS), or 0 once it is gone. */
export function rssOf (pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** User + system CPU seconds consumed so far by a process (all its threads). */
export function cpuOf (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK
  } catch {
    return 0
  }
}

/** CPU seconds of this very process (the load generator). */
export function selfCpu (): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** Samples a process's RSS on an interval, keeping the peak and a few points for the report. */
export class RssSampler {
  peak = 0
  last = 0
  samples: Array<{ t: number, rss: number }> = []
  private timer: NodeJS.Timeout | undefined
  private readonly t0 = Date.now()

  constructor (readonly pid: number, readonly everyMs = 50) {}

  start (): this {
    this.sample()
    this.timer = setInterval(() => this.sample(), this.everyMs)
    this.timer.unref()
    return this
  }

  sample (): number {
    const rss = rssOf(this.pid)
    if (rss > 0) {
      this.last = rss
      if (rss > this.peak) this.peak = rss
      this.samples.push({ t: Date.now() - this.t0, rss })
    }
    return rss
  }

  stop (): this {
    if (this.timer) clearInterval(this.timer)
    this.sample()
    return this
  }
}

/** CPU used by a process and by this generator between start() and stop(), as cores busy. */
export class CpuMeter {
  private g0 = 0
  private s0 = 0
  private t0 = 0
  result = { gatewayCpuS: 0, generatorCpuS: 0, wallS: 0, gatewayCores: 0, generatorCores: 0 }

  constructor (readonly pid: number) {}

  start (): this {
    this.g0 = cpuOf(this.pid)
    this.s0 = selfCpu()
    this.t0 = performance.now()
    return this
  }

  stop (): CpuMeter['result'] {
    const wallS = (performance.now() - this.t0) / 1000
    const gatewayCpuS = cpuOf(this.pid) - this.g0
    const generatorCpuS = selfCpu() - this.s0
    this.result = { gatewayCpuS, generatorCpuS, wallS, gatewayCores: gatewayCpuS / wallS, generatorCores: generatorCpuS / wallS }
    return this.result
  }
}

/** Current soft limit on open files for this process. */
export function nofileLimit (): number {
  const m = /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))
  return m ? Number(m[1]) : 0
}

/**
 * Raises this process's open-file limit (children inherit it). Needs root or a high hard limit;
 * returns the limit in force afterwards so the report states it.
 */
export function raiseNofile (want: number): { before: number, after: number } {
  const before = nofileLimit()
  if (before < want) {
    try {
      execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${want}:${want}`], { stdio: 'ignore' })
    } catch {}
  }
  return { before, after: nofileLimit() }
}

/**
 * The command that runs `argv` on the given CPUs (`taskset -c`), or `argv` itself where taskset is
 * missing or the CPUs do not exist; `pinned` says which happened, for the report.
 */
export function pinnedCommand (cpuList: string, argv: string[]): { argv: string[], pinned: boolean } {
  try {
    execFileSync('taskset', ['-c', cpuList, 'true'], { stdio: 'ignore' })
    return { argv: ['taskset', '-c', cpuList, ...argv], pinned: true }
  } catch {
    return { argv, pinned: false }
  }
}
