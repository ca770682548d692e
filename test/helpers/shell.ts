import { spawn, type ChildProcess } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Step } from './readme.ts'
import { waitFor } from './wait.ts'

type Teardown = { teardown: (fn: () => unknown) => void }
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * A checkout as a user has it after `npm ci`, in a temp dir: the sources and package files
 * copied, node_modules linked, and dist/ copied last, so it is newer than every source, as
 * `npm ci`'s `prepare` build leaves it (`npm start` then runs it without building again; the
 * `npm run build` is the repo's own, made before the suite by `npm ci` or `.ci/run`).
 * Files a walkthrough writes (data/, events.arrows, .cognito/) land here, not in the repo.
 */
export function checkoutCopy (t: Teardown, o: { dist?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-readme-'))
  const entries = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', '.env.example', 'src', 'plugins', 'routes', 'config']
  for (const entry of [...entries, ...(o.dist === false ? [] : ['dist'])]) {
    cpSync(join(ROOT, entry), join(dir, entry), { recursive: true })
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A process group leader; every process it leaves behind (`cmd &`) is in its group. */
export function spawnGroup (t: Teardown, command: string, args: string[], opts: { cwd: string, env: Record<string, string> }): ChildProcess {
  const proc = spawn(command, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => killGroup(proc.pid!))
  return proc
}

const alive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

/** SIGTERM to the whole group (npm leaves at once, its server flushes and exits), SIGKILL after 30 s. */
export async function killGroup (pgid: number): Promise<void> {
  if (!alive(pgid)) return
  process.kill(-pgid, 'SIGTERM')
  try {
    await waitFor(() => !alive(pgid), `process group ${pgid} to exit`, { timeoutMs: 30_000, everyMs: 50 })
  } catch {
    if (alive(pgid)) process.kill(-pgid, 'SIGKILL')
  }
}

export interface ScriptRun { outputs: string[], stdout: string, stderr: string, code: number | null }

const MARK = '\u001eSTEP-END'

/**
 * Runs `steps` in one bash (so variables and functions carry over, as in one terminal), after
 * `prelude`, and returns what each step printed on stdout. bash stops at the first failing
 * command (`set -euo pipefail`): a README command that fails fails the test at that step.
 */
export async function runSteps (t: Teardown, steps: Step[], opts: { cwd: string, env: Record<string, string>, prelude?: string }): Promise<ScriptRun> {
  const script = ['set -euo pipefail', opts.prelude ?? '', ...steps.map((s) => `${s.commands}\nprintf '\\n${MARK}\\n'`)].join('\n')
  const proc = spawnGroup(t, 'bash', ['-c', script], opts)
  let stdout = ''
  let stderr = ''
  proc.stdout!.on('data', (d: Buffer) => { stdout += d.toString() })
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  // 'exit', not 'close': a job the script leaves running in the background may hold the pipes.
  let ended = false
  proc.stdout!.once('end', () => { ended = true })
  const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)))
  // What bash wrote before it exited may still be in the pipe: read until every marker (or EOF) is in.
  await waitFor(() => ended || stdout.split(MARK).length > steps.length, 'the script\'s output', { timeoutMs: 5_000 }).catch(() => {})
  const outputs = stdout.split(`\n${MARK}\n`).map((o) => o.replace(/\n+$/, ''))
  return { outputs: outputs.slice(0, steps.length), stdout, stderr, code }
}
