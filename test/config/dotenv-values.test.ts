import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig } from '../../config/load.ts'

// A bad enum value read from `.env` was reported as `(got undefined)`: the message looked the
// value up in the environment only, while env-schema had read it from the file.
t.test('a bad enum value in .env is named in the message, as it is from the environment', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-dotenv-'))
  const cwd = process.cwd()
  process.chdir(dir)
  t.teardown(() => { process.chdir(cwd); rmSync(dir, { recursive: true, force: true }) })
  const cases = [
    ['PARQUET_COMPRESSION', 'gzip', 'must be one of zstd, snappy, lz4, none (got "gzip")'],
    ['COGNITO_TOKEN_USE', 'refresh', 'must be one of access, id, any (got "refresh")'],
    ['LOG_LEVEL', 'verbose', 'must be one of fatal, error, warn, info, debug, trace, silent (got "verbose")']
  ]
  for (const [variable, value, message] of cases) {
    writeFileSync(join(dir, '.env'), `PORT=38999\n${variable}=${value}\n`)
    for (const [source, load] of [
      ['.env', () => loadConfig({}, { dotenv: true })],
      ['environment', () => loadConfig({ [variable]: value }, { dotenv: false })]
    ] as const) {
      let err: unknown
      try { load() } catch (e) { err = e }
      t.ok(err instanceof ConfigError, `${variable}=${value} from ${source}: ConfigError`)
      t.equal((err as Error).message, `${variable}: ${message}`, `${variable}=${value} from ${source}`)
    }
  }
  writeFileSync(join(dir, '.env'), 'PARQUET_COMPRESSION=gzip\n')
  t.equal(loadConfig({ PARQUET_COMPRESSION: 'snappy' }, { dotenv: true }).PARQUET_COMPRESSION, 'snappy', 'the environment still overrides .env')
})
