import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { HELP } from '../../src/cli/help.ts'
import { startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { parquetTable } from '../e2e/ingest-helpers.ts'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/*
 * `npx quiver`, as the README's CLI section gives it: npm finds the package's own `bin`
 * (src/cli/bin.js) in the checkout and runs it. Run from outside, as a user's shell does: npx in
 * the checkout's directory with only PATH, HOME and the QUIVER_* variables. npm reads the whole
 * dependency tree before each run (seconds of CPU, tens of seconds on a loaded 2-core machine).
 */
t.setTimeout(600_000)

t.test('npx quiver: --help, then sample | send into a started gateway, rows read back from Parquet', async (t) => {
  const dataDir = t.testdir()
  const gw = await startGateway(t, { DATA_DIR: dataDir })
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', QUIVER_URL: gw.url, QUIVER_TOKEN: localToken(dataDir, ['admin']) }
  const npx = (args: string[]) => run('npx', ['quiver', ...args], { cwd: ROOT, env, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 })

  const help = await npx(['--help'])
  t.equal(help.stdout.toString(), HELP, 'the usage text')

  const sample = await npx(['sample', '--rows', '500', '--first-id', '1'])
  const file = join(t.testdirName, 'events.arrows')
  writeFileSync(file, sample.stdout)

  const sent = await npx(['send', file, '--topic', 'events', '--create-topic', '--json', '--quiet'])
  const summary = JSON.parse(sent.stdout.toString())
  t.match(summary, { topic: 'events', transport: 'http', rows: 500, batches: 1, skippedBatches: 0, retries: 0 }, sent.stderr.toString())

  const files = readdirSync(join(dataDir, 'events'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet'))
  t.equal(files.length, 1, 'one object for the one durable batch')
  const table = parquetTable(readFileSync(join(dataDir, 'events', files[0])))
  t.same([...table.getChild('id')!].map(Number), Array.from({ length: 500 }, (_, i) => i + 1), 'ids 1 to 500, once each')
  t.same(table.toArray().slice(0, 2).map((r) => ({ kind: r.kind, value: r.value })), [{ kind: 'click', value: 6.03 }, { kind: 'click', value: 2.08 }], 'the sample\'s values')
})
