import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { tableFromIPC } from 'apache-arrow'
import t from 'tap'
import { BIN } from './helpers/cli.ts'

const run = promisify(execFile)

t.test('quiver sample writes the walkthrough topic\'s rows as one Arrow IPC stream, the same bytes every time', async (t) => {
  const a = await run(process.execPath, [BIN, 'sample', '--rows', '1000'], { encoding: 'buffer' })
  const b = await run(process.execPath, [BIN, 'sample', '--rows', '1000'], { encoding: 'buffer' })
  t.ok(Buffer.compare(a.stdout, b.stdout) === 0, 'deterministic')
  const table = tableFromIPC(a.stdout)
  t.same(table.schema.fields.map((f) => `${f.name}: ${String(f.type)}${f.nullable ? '' : ' not null'}`),
    ['id: Int64 not null', 'kind: Utf8', 'value: Float64', 'at: Timestamp<MICROSECOND, UTC>'])
  t.equal(table.numRows, 1000)
  const at = table.getChild('at')!.data[0].values as BigInt64Array
  t.same([...table.slice(0, 3)].map((r) => ({ ...r.toJSON(), id: Number(r.id), at: undefined })), [
    { id: 1, kind: 'click', value: 6.03, at: undefined },
    { id: 2, kind: 'click', value: 2.08, at: undefined },
    { id: 3, kind: 'purchase', value: 8.18, at: undefined }
  ])
  t.same([at[0], at[1], at[999]], [1_767_225_600_000_000n, 1_767_225_601_000_250n, 1_767_225_600_000_000n + 999n * 1_000_250n])
  const kinds: Record<string, number> = {}
  for (const r of table) kinds[r.kind as string] = (kinds[r.kind as string] ?? 0) + 1
  t.same(kinds, { click: 267, purchase: 140, view: 593 })
  const shifted = tableFromIPC((await run(process.execPath, [BIN, 'sample', '--rows', '2', '--first-id', '1001'], { encoding: 'buffer' })).stdout)
  t.same([...shifted].map((r) => Number(r.id)), [1001, 1002])
})

t.test('quiver sample refuses a file argument and a zero row count', async (t) => {
  await t.rejects(run(process.execPath, [BIN, 'sample', 'events.arrows']), { code: 2, stderr: 'quiver: sample takes no file: redirect its output, e.g. quiver sample > events.arrows\nRun quiver --help for usage.\n' })
  await t.rejects(run(process.execPath, [BIN, 'sample', '--rows', '0']), { code: 2, stderr: 'quiver: --rows must be an integer ≥ 1, got "0"\nRun quiver --help for usage.\n' })
})

t.test('quiver sample --first-id past 2^53 writes exactly the ids asked for, and refuses ids outside int64', async (t) => {
  // Before: the id was added as a Number, so 9007199254740993 gave …992, …992, …994, …996.
  const big = tableFromIPC((await run(process.execPath, [BIN, 'sample', '--rows', '4', '--first-id', '9007199254740993'], { encoding: 'buffer' })).stdout)
  t.same([...big].map((r) => String(r.id)), ['9007199254740993', '9007199254740994', '9007199254740995', '9007199254740996'])
  const top = tableFromIPC((await run(process.execPath, [BIN, 'sample', '--rows', '2', '--first-id', '9223372036854775806'], { encoding: 'buffer' })).stdout)
  t.same([...top].map((r) => String(r.id)), ['9223372036854775806', '9223372036854775807'])
  const usage = (line: string) => ({ code: 2, stderr: `quiver: ${line}\nRun quiver --help for usage.\n` })
  await t.rejects(run(process.execPath, [BIN, 'sample', '--first-id', '9223372036854775808']),
    usage('--first-id must be an integer from 0 to 9223372036854775807, got "9223372036854775808"'))
  await t.rejects(run(process.execPath, [BIN, 'sample', '--first-id=-1']),
    usage('--first-id must be an integer from 0 to 9223372036854775807, got "-1"'))
  await t.rejects(run(process.execPath, [BIN, 'sample', '--first-id', '1e3']),
    usage('--first-id must be an integer from 0 to 9223372036854775807, got "1e3"'))
  await t.rejects(run(process.execPath, [BIN, 'sample', '--rows', '3', '--first-id', '9223372036854775806']),
    usage('--first-id 9223372036854775806 with --rows 3 passes the largest int64 id, 9223372036854775807'))
})
