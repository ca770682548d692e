import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { waitFor } from './wait.ts'
import { TEST_TOPIC_SCHEMA } from './arrow.ts'
import { localToken } from './local-auth.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface Gateway {
  url: string
  port: number
  dataDir: string
  proc: ChildProcess
  /** Everything the process printed on stdout / stderr so far. */
  stdout (): string
  stderr (): string
  kill (signal?: NodeJS.Signals): void
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>
}

export async function freePort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address() as AddressInfo
  await new Promise((resolve) => srv.close(resolve))
  return port
}

/**
 * Spawns the real server from its TypeScript sources (`node --import tsx src/server.ts`, as
 * `npm run dev` does; `npm start` runs tsc's output of the same files) on a random port
 * with a temporary DATA_DIR (unless env.DATA_DIR is given), and waits until /healthz answers.
 * The environment is exactly `env` plus PATH/HOME: nothing leaks in from the test process.
 * `opts.argv` runs another entry instead (the built server: `[dist/src/server.js]`).
 */
export async function startGateway (t: { teardown: (fn: () => unknown) => void }, env: Record<string, string> = {}, opts: { timeoutMs?: number, cwd?: string, argv?: string[] } = {}): Promise<Gateway> {
  const port = env.PORT ? Number(env.PORT) : await freePort()
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'quiver-gw-'))
  let out = ''
  let err = ''
  const proc = spawn(process.execPath, opts.argv ?? ['--import', 'tsx', join(ROOT, 'src', 'server.ts')], {
    cwd: opts.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...env, PORT: String(port), DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL')
      await exited
    }
    if (!env.DATA_DIR) rmSync(dataDir, { recursive: true, force: true })
  })

  const url = `http://127.0.0.1:${port}`
  const state = { exited: false }
  exited.then(() => { state.exited = true }, () => {})
  // /healthz answering is the only sign of a gateway ready for requests.
  await waitFor(async () => state.exited || await fetch(`${url}/healthz`).then((res) => res.status === 200, () => false),
    'the gateway to become healthy', { timeoutMs: opts.timeoutMs ?? 120_000, everyMs: 50 })
    .catch(() => { throw new Error(`gateway did not become healthy in time\nstdout:\n${out}\nstderr:\n${err}`) })
  if (state.exited) throw new Error(`gateway exited during startup (${await exited})\nstdout:\n${out}\nstderr:\n${err}`)
  return { url, port, dataDir, proc, stdout: () => out, stderr: () => err, kill: (s = 'SIGTERM') => proc.kill(s), exited }
}

/** Creates a topic (the test schema unless told otherwise) through the admin API, as an operator would. */
export async function createTopic (gw: Gateway, name = 'events', schema: unknown = TEST_TOPIC_SCHEMA): Promise<void> {
  const res = await fetch(`${gw.url}/v1/topics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${localToken(gw.dataDir, ['admin'])}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, schema })
  })
  if (res.status !== 201) throw new Error(`topic create: ${res.status} ${await res.text()}`)
}
