import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import t from 'tap'
import { freePort } from '../helpers/gateway.ts'
import { blocks, readReadme, resultPattern, section, steps } from '../helpers/readme.ts'
import { checkoutCopy, runSteps, spawnGroup } from '../helpers/shell.ts'
import { waitFor } from '../helpers/wait.ts'

/**
 * The README's "5-minute walkthrough", run as a newcomer types it, so the README cannot drift.
 * What the test does in the user's place, and nothing else:
 * - the ```` ```sh gateway ```` block (`npm ci && npm start`): the test runs `npm start` in a
 *   copy of the checkout whose node_modules are already installed, with PORT set to a free port;
 * - the ```` ```sh banner ```` block (`export ADMIN=eyJ...`): the test pastes the `export` lines
 *   the gateway printed instead, as the README asks;
 * - `localhost:3000` becomes `localhost:<that port>`, which a user running on another PORT does too.
 * Every other line runs verbatim in one bash, in the copy's directory; each `# → ` result must
 * match what the command printed, and the ```` ```sql ```` block runs in DuckDB over ./data.
 * Then the CLI section's ```` ```sh cli ```` blocks (how to run `quiver` in a checkout) run the
 * same way against that gateway, in a second bash with alias expansion on, as in the user's
 * interactive shell. Last, the Schema evolution section's PATCH, write and DuckDB query run on the
 * walkthrough's topic. (`npx quiver` is not run: in this copy node_modules is a symlink, which
 * npx's own install of the checkout's bin does not handle.)
 */
// npm start (the copy's build), then a dozen commands: minutes on a loaded machine.
t.setTimeout(360_000)
const readme = readReadme()
const walkthrough = section(readme, '## 5-minute walkthrough')
const cli = section(readme, '### Command-line client: `quiver`')

t.test('the README walkthrough runs as typed and prints what the README shows', async (t) => {
  const dir = checkoutCopy(t)
  const port = await freePort()
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }
  const gateway = spawnGroup(t, 'npm', ['start'], { cwd: dir, env: { ...env, PORT: String(port) } })
  let printed = ''
  gateway.stdout!.on('data', (d: Buffer) => { printed += d.toString() })
  gateway.stderr!.on('data', (d: Buffer) => { printed += d.toString() })
  await waitFor(() => /^export READER=\S+$/m.test(printed) || gateway.exitCode !== null, 'the token banner', { timeoutMs: 180_000, everyMs: 50 })
  t.equal(gateway.exitCode, null, `npm start is running\n${printed}`)
  const exports = printed.split('\n').filter((l) => /^export (ADMIN|WRITER|READER)=/.test(l)).join('\n')

  const shell = blocks(walkthrough, ['sh'])
  t.same(shell.filter((b) => b.tags.length > 0).map((b) => b.tags), [['gateway'], ['banner']], 'the two blocks the test stands in for')
  const typed = shell.filter((b) => !b.tags.includes('gateway')).map((b) => b.tags.includes('banner') ? exports : b.code)
  const all = typed.flatMap((code) => steps(code.replaceAll('localhost:3000', `localhost:${port}`)))
  t.ok(all.filter((s) => s.expected.length > 0).length >= 7, 'the walkthrough shows its results')

  const run = await runSteps(t, all, { cwd: dir, env })
  t.equal(run.code, 0, `every command succeeded\nstderr:\n${run.stderr}`)
  all.forEach((step, i) => {
    if (step.expected.length === 0) return
    t.match(run.outputs[i] ?? '(nothing)', resultPattern(step.expected), step.commands.trim().split('\n')[0])
  })

  // The walkthrough's claims about ./data: plain Parquet objects, read where they are.
  const files = readdirSync(join(dir, 'data', 'events'), { recursive: true }).map(String).filter((f) => f.endsWith('.parquet'))
  t.equal(files.length, 2, 'one object per flush: the NDJSON request and the Arrow request')
  const [sql] = blocks(walkthrough, ['sql'])
  const query = sql.code.split('\n').filter((l) => !l.startsWith('--')).join('\n')
  const shown = sql.code.split('\n').filter((l) => l.startsWith('-- → ')).map((l) => l.slice('-- → '.length))
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  await conn.run(`SET file_search_path = '${dir}'`)
  const rows = (await conn.runAndReadAll(query)).getRowsJS()
  t.same(rows.map((r) => r.map(String).join(' | ')), shown, 'the SQL block prints what the README shows')

  const cliSteps = blocks(cli, ['sh']).filter((b) => b.tags.includes('cli')).flatMap((b) => steps(b.code.replaceAll('localhost:3000', `localhost:${port}`)))
  t.ok(cliSteps.filter((s) => s.expected.length > 0).length >= 2, 'the CLI section shows its results')
  const cliRun = await runSteps(t, cliSteps, { cwd: dir, env, prelude: 'shopt -s expand_aliases' })
  t.equal(cliRun.code, 0, `every CLI command succeeded\nstderr:\n${cliRun.stderr}`)
  cliSteps.forEach((step, i) => {
    if (step.expected.length === 0) return
    t.match(cliRun.outputs[i] ?? '(nothing)', resultPattern(step.expected), step.commands.trim().split('\n')[0])
  })

  // The Schema evolution section's PATCH, its write of the new field and its DuckDB query, on the
  // walkthrough's topic (its blocks sit in list items: two spaces of indent).
  const evolution = section(readme, '### Schema evolution').split('\n').map((l) => l.replace(/^ {2}/, '')).join('\n')
  const evolveSteps = blocks(evolution, ['sh']).flatMap((b) => steps(b.code.replaceAll('localhost:3000', `localhost:${port}`)))
  t.equal(evolveSteps.filter((s) => s.expected.length > 0).length, 2, 'the PATCH and the write show their results')
  const evolveRun = await runSteps(t, evolveSteps, { cwd: dir, env, prelude: exports })
  t.equal(evolveRun.code, 0, `the evolution commands succeeded\nstderr:\n${evolveRun.stderr}`)
  evolveSteps.forEach((step, i) => {
    t.match(evolveRun.outputs[i] ?? '(nothing)', resultPattern(step.expected), step.commands.trim().split('\n')[0])
  })
  const [evolvedSql] = blocks(evolution, ['sql'])
  const evolvedRows = (await conn.runAndReadAll(evolvedSql.code.split('\n').filter((l) => !l.startsWith('--')).join('\n'))).getRowsJS()
  t.same(evolvedRows.map((r) => r.map(String).join(' | ')), evolvedSql.code.split('\n').filter((l) => l.startsWith('-- → ')).map((l) => l.slice('-- → '.length)), 'old and new rows read back with union_by_name')
})
