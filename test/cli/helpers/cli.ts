import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { peakRss } from './files.ts'
import { waitFor } from '../../helpers/wait.ts'

export const BIN = fileURLToPath(new URL('../../../src/cli/bin.js', import.meta.url))

export interface CliRun {
  pid: number
  /** Resolves when the process exits, with its output and the highest VmHWM seen. */
  done: Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string, peak: number }>
  kill (signal: NodeJS.Signals): void
  /** Resolves once stderr matches `re` (rejects after `ms`). */
  waitForStderr (re: RegExp, ms?: number): Promise<void>
}

/** Runs `quiver …` as a separate process (as users do), sampling its peak RSS from /proc. */
export function runCli (args: string[], env: Record<string, string> = {}, opts: { cwd?: string } = {}): CliRun {
  const proc = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  let peak = 0
  proc.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setInterval(async () => {
    const hwm = await peakRss(proc.pid!)
    if (hwm) peak = Math.max(peak, hwm)
  }, 100)
  const done = new Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string, peak: number }>((resolve) => {
    // 'close' comes after 'exit' once stdout/stderr are drained too.
    proc.once('exit', () => clearInterval(timer))
    proc.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, peak }))
  })
  const waitForStderr = async (re: RegExp, ms = 30_000) => {
    await waitFor(() => {
      if (re.test(stderr)) return true
      if (proc.exitCode !== null) throw new Error(`the CLI exited (${proc.exitCode}) before its stderr matched ${re}: ${stderr}`)
      return false
    }, `stderr to match ${re}`, { timeoutMs: ms, everyMs: 25 }).catch((err: Error) => { throw new Error(`${err.message}: ${stderr}`) })
  }
  return { pid: proc.pid!, done, kill: (s) => proc.kill(s), waitForStderr }
}
