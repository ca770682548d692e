import { existsSync, readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { isMainThread, parentPort } from 'node:worker_threads'
import { ROLES, type Role } from '../auth/types.ts'
import type { ApiClient } from './api.ts'
import { HELP } from './help.ts'
import { formatSummary } from './progress.ts'
import { send, SendError } from './send.ts'
import { FORMATS, type Format } from './sources/index.ts'
import { MAX_ID, sampleStream } from './sample.ts'
import { tail } from './tail.ts'
import { mintLocalTokens } from './token.ts'
import { loadConfig } from '../../config/load.ts'
import { writeMintRecord } from '../auth/revocations.ts'
import { createStorage } from '../storage/index.ts'
import { silentLog } from '../storage/log.ts'

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  url: { type: 'string' },
  token: { type: 'string' },
  topic: { type: 'string', short: 't' },
  format: { type: 'string' },
  transport: { type: 'string', default: 'http' },
  'batch-rows': { type: 'string', default: '50000' },
  inflight: { type: 'string', default: '4' },
  retries: { type: 'string', default: '8' },
  'create-topic': { type: 'boolean' },
  resume: { type: 'string' },
  'no-keys': { type: 'boolean' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  limit: { type: 'string', default: '0' },
  'data-dir': { type: 'string' },
  ttl: { type: 'string', default: '86400' },
  role: { type: 'string' },
  rows: { type: 'string', default: '1000' },
  'first-id': { type: 'string', default: '1' }
} as const

class UsageError extends Error {}

// bin.js runs the CLI in a worker and forwards the process's signals as messages.
const controller = new AbortController()
if (isMainThread) {
  process.once('SIGINT', () => controller.abort())
  process.once('SIGTERM', () => controller.abort())
} else {
  parentPort?.on('message', () => controller.abort())
}

function int (name: string, value: string, min: number): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${value}"`)
  return n
}

/** An id flag parsed exactly (digits only, as BigInt): Number() would round it past 2^53. */
function id (name: string, value: string): bigint {
  const n = /^[0-9]+$/.test(value) ? BigInt(value) : -1n
  if (n < 0n || n > MAX_ID) throw new UsageError(`--${name} must be an integer from 0 to ${MAX_ID}, got "${value}"`)
  return n
}

function oneOf<T extends string> (name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined
  if (!allowed.includes(value as T)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${value}"`)
  return value as T
}

export async function main (argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true })
  const [command, ...rest] = positionals
  if (values.version) {
    // ../../ from src/cli, ../../../ from dist/src/cli
    const file = [new URL('../../package.json', import.meta.url), new URL('../../../package.json', import.meta.url)].find((u) => existsSync(u))
    const pkg = file ? JSON.parse(readFileSync(file, 'utf8')) as { version: string } : { version: 'unknown' }
    process.stdout.write(`${pkg.version}\n`)
    return 0
  }
  if (values.help || !command) {
    process.stdout.write(HELP)
    return values.help ? 0 : 2
  }
  const api: ApiClient = {
    url: values.url ?? process.env.QUIVER_URL ?? 'http://127.0.0.1:3000',
    token: values.token ?? process.env.QUIVER_TOKEN ?? null
  }
  const log = (line: string) => { if (!values.quiet) process.stderr.write(`quiver: ${line}\n`) }

  if (command === 'send') {
    if (rest.length !== 1) throw new UsageError('send takes exactly one file')
    if (!values.topic) throw new UsageError('send needs --topic')
    try {
      const summary = await send({
        file: rest[0],
        topic: values.topic,
        api,
        format: oneOf<Format>('format', values.format, FORMATS),
        transport: oneOf('transport', values.transport, ['http', 'ws'] as const) ?? 'http',
        batchRows: int('batch-rows', values['batch-rows'], 1),
        inflight: int('inflight', values.inflight, 1),
        retries: int('retries', values.retries, 0),
        createTopic: values['create-topic'] ?? false,
        resume: values.resume ?? null,
        keys: values['no-keys'] !== true,
        progress: values.quiet || values.json ? 'off' : process.stderr.isTTY ? 'tty' : 'lines',
        signal: controller.signal,
        log
      })
      if (values.json) process.stdout.write(JSON.stringify(summary) + '\n')
      else process.stderr.write(`quiver: ${formatSummary(summary)}\n`)
      return 0
    } catch (err) {
      if (!(err instanceof SendError)) throw err
      process.stderr.write(`quiver: send stopped: ${err.message}\nquiver: ${formatSummary(err.summary)}\n`)
      if (err.statePath) {
        process.stderr.write(`quiver: to send what was not acknowledged, rerun with --resume ${err.statePath}\n`)
      }
      if (values.json) process.stdout.write(JSON.stringify({ ...err.summary, error: err.message, statePath: err.statePath }) + '\n')
      return controller.signal.aborted ? 130 : 1
    }
  }
  if (command === 'tail') {
    if (rest.length !== 1) throw new UsageError('tail takes exactly one topic')
    await tail({ api, topic: rest[0], limit: int('limit', values.limit, 0), out: (l) => process.stdout.write(l + '\n'), signal: controller.signal, onOpen: () => log(`following "${rest[0]}"`) })
    return 0
  }
  if (command === 'sample') {
    if (rest.length !== 0) throw new UsageError('sample takes no file: redirect its output, e.g. quiver sample > events.arrows')
    if (process.stdout.isTTY) throw new UsageError('sample writes binary Arrow IPC: redirect it to a file (quiver sample --rows 1000 > events.arrows)')
    const rows = int('rows', values.rows, 1)
    const firstId = id('first-id', values['first-id'])
    if (firstId + BigInt(rows) - 1n > MAX_ID) throw new UsageError(`--first-id ${firstId} with --rows ${rows} passes the largest int64 id, ${MAX_ID}`)
    const bytes = sampleStream(rows, firstId)
    await new Promise<void>((resolve, reject) => process.stdout.write(bytes, (err) => err ? reject(err) : resolve()))
    return 0
  }
  if (command === 'token') {
    const ttlSeconds = int('ttl', values.ttl, 1)
    const role = oneOf<Role>('role', values.role, ROLES) ?? null
    // The gateway's own configuration (environment, then .env), so the records land in the
    // storage it reads (S3 when S3_BUCKET is set) and the scopes match its SCOPE_PREFIX.
    const config = loadConfig(values['data-dir'] === undefined ? { ...process.env } : { ...process.env, DATA_DIR: values['data-dir'] }, { dotenv: true })
    const storage = await createStorage(config, silentLog, { attempts: 3 })
    try {
      const lines = await mintLocalTokens({
        dataDir: config.DATA_DIR,
        scopePrefix: config.SCOPE_PREFIX,
        ttlSeconds,
        role,
        record: async (r) => {
          try {
            await writeMintRecord(storage, r)
          } catch (err) {
            throw new Error(`the token could not be recorded in the gateway's storage, so it could not be revoked; none printed (${(err as Error).message})`)
          }
        }
      })
      process.stdout.write(lines.join('\n') + '\n')
    } finally {
      await storage.close()
    }
    return 0
  }
  throw new UsageError(`unknown command "${command}"`)
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (err: Error) => {
  const usage = err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')
  process.stderr.write(`quiver: ${err.message}\n${usage ? 'Run quiver --help for usage.\n' : ''}`)
  process.exitCode = usage ? 2 : 1
}).finally(() => {
  // The signal channel would keep the worker alive.
  if (!isMainThread) parentPort?.close()
})
