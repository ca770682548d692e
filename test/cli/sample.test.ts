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
