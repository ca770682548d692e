import t from 'tap'
import { Field, makeData, RecordBatch, Schema, Struct, TimeUnit, Timestamp, tableFromIPC } from 'apache-arrow'
import { castTimestampsToMicros, INGESTED_AT_TYPE, Int64Scratch, rescale, toIpcStream, withIngestedAt } from '../../src/arrow/encode.ts'
import { rowsToBatches } from '../../src/arrow/json.ts'
import { formatType, toArrowSchema } from '../../src/schema/types.ts'
import { makeBatch, makeTable, TEST_ARROW_SCHEMA } from '../helpers/arrow.ts'
import { growth, LINEAR } from '../helpers/cost.ts'

t.test('toIpcStream writes one stream that reads back exactly', async (t) => {
  const table = makeTable(25_000)
  const ipc = toIpcStream(table.batches)
  const back = tableFromIPC(ipc)
  t.equal(back.numRows, 25_000)
  t.equal(back.batches.length, 3)
  t.same(back.get(24_999)?.toJSON(), { id: 24_999n, name: 'name-24999', price: 37498.5, ts: 1714564800000 + 24_999_000, ok: false })
  const empty = tableFromIPC(toIpcStream([], TEST_ARROW_SCHEMA))
  t.same([empty.numRows, empty.schema.fields.map(f => f.name)], [0, ['id', 'name', 'price', 'ts', 'ok']])
  t.throws(() => toIpcStream([]), { name: 'TypeError', message: 'toIpcStream needs a schema when there are no batches' })
  // batches with structurally equal schema objects still make one stream (no restart)
  const again = toIpcStream([makeBatch(2), new RecordBatch(TEST_ARROW_SCHEMA, makeBatch(3).data)], TEST_ARROW_SCHEMA)
  t.equal(tableFromIPC(again).numRows, 5)
})

t.test('withIngestedAt appends a non-nullable timestamp[us, tz=UTC] column', async (t) => {
  const b = makeBatch(3)
  const out = withIngestedAt(b, 1714564800123)
  t.same(out.schema.fields.map(f => [f.name, formatType(f.type), f.nullable]).at(-1), ['__ingested_at', 'timestamp[us, tz=UTC]', false])
  t.same([...out.getChild('__ingested_at')!.data[0].values], [1714564800123000n, 1714564800123000n, 1714564800123000n])
  t.equal(withIngestedAt(makeBatch(1), 0).schema, out.schema, 'same input schema → same output schema object')
  t.equal(out.getChild('id')!.data[0], b.getChild('id')!.data[0], 'existing columns shared')
  t.equal(INGESTED_AT_TYPE.unit, TimeUnit.MICROSECOND)
  const back = tableFromIPC(toIpcStream([out]))
  t.equal(back.get(2)?.toJSON().__ingested_at, 1714564800123)
})

t.test('castTimestampsToMicros rescales s, ms and ns (also nested), keeps the zone, leaves others alone', async (t) => {
  const schema = toArrowSchema({
    fields: [
      { name: 's', type: 'timestamp[s]', nullable: true },
      { name: 'ms', type: 'timestamp[ms, tz=UTC]', nullable: true },
      { name: 'ns', type: 'timestamp[ns, tz=Europe/Paris]', nullable: true },
      { name: 'us', type: 'timestamp[us, tz=UTC]', nullable: true },
      { name: 'nested', type: 'struct<at: timestamp[ms], xs: list<item: timestamp[ns]>>', nullable: true },
      { name: 'n', type: 'int64', nullable: true }
    ]
  })
  const [b] = rowsToBatches([
    { s: '2024-05-01T12:00:01Z', ms: 1714564800123, ns: '2024-05-01T12:00:00.123456789Z', us: 5, nested: { at: 1000, xs: ['1969-12-31T23:59:59.9999999Z'] }, n: 7 },
    { s: null, ms: -1, ns: null, us: null, nested: null, n: null }
  ], schema)
  const out = castTimestampsToMicros(b)
  t.same(out.schema.fields.map(f => formatType(f.type)), [
    'timestamp[us]', 'timestamp[us, tz=UTC]', 'timestamp[us, tz=Europe/Paris]', 'timestamp[us, tz=UTC]',
    'struct<at: timestamp[us], xs: list<item: timestamp[us]>>', 'int64'
  ])
  const v = (name: string) => [...out.getChild(name)!.data[0].values]
  t.same(v('s')[0], 1714564801000000n)
  t.same(v('ms'), [1714564800123000n, -1000n])
  t.same(v('ns')[0], 1714564800123456n)
  t.equal(out.getChild('us')!.data[0], b.getChild('us')!.data[0], 'microsecond columns shared')
  t.equal(out.getChild('n')!.data[0], b.getChild('n')!.data[0])
  const nested = out.getChild('nested')!.data[0]
  t.same([...nested.children[0].values], [1000000n, 0n])
  t.same([...nested.children[1].children[0].values], [-1n], 'ns → us floors (before 1970 too)')
  t.same([out.get(1)?.toJSON().s, out.get(1)?.toJSON().nested], [null, null], 'nulls kept')
  t.equal(castTimestampsToMicros(makeBatch(2)).schema, TEST_ARROW_SCHEMA, 'nothing to cast → the batch as is')
  t.equal(castTimestampsToMicros(b).schema, out.schema, 'output schema cached')

  // The same values in memory from a scratch buffer, reused after reset() (the staged path, one message at a time).
  const scratch = new Int64Scratch()
  scratch.take(100) // grown once: every column below fits
  scratch.reset()
  const again = castTimestampsToMicros(b, (n) => scratch.take(n))
  t.same(again.toArray().map((r) => JSON.stringify(r.toJSON(), (_k, x) => typeof x === 'bigint' ? String(x) : x)), out.toArray().map((r) => JSON.stringify(r.toJSON(), (_k, x) => typeof x === 'bigint' ? String(x) : x)))
  const first = again.getChild('ms')!.data[0].values as BigInt64Array
  t.ok(first.buffer === (again.getChild('s')!.data[0].values as BigInt64Array).buffer, 'every rescaled column lives in the scratch buffer')
  scratch.reset()
  const third = castTimestampsToMicros(b, (n) => scratch.take(n))
  t.equal((third.getChild('s')!.data[0].values as BigInt64Array).buffer, first.buffer, 'reused after reset()')
  const big = scratch.take(1000)
  t.equal(big.length, 1000)
  t.not(big.buffer, first.buffer, 'a larger request gets a larger buffer; earlier views keep the old one')
  t.same(v('ms'), [1714564800123000n, -1000n], 'the first cast, made without scratch, is untouched')
})

t.test('rescale is exact at the edges and falls back to BigInt beyond 2^53', async (t) => {
  const src = BigInt64Array.from([0n, 1n, -1n, 999n, -999n, -1001n, 2n ** 62n, -(2n ** 62n), 2n ** 53n + 1n, (2n ** 32n) * 1000n + 999n])
  t.same([...rescale(src, 1, 1000)], [...src].map(x => x >= 0n ? x / 1000n : -((-x + 999n) / 1000n)), 'ns → us floors')
  const ms = BigInt64Array.from([0n, 1n, -1n, 1714564800123n, 9_007_199_254_740n, 9_007_199_254_741n, -9_007_199_254_741n, 2n ** 50n])
  t.same([...rescale(ms, 1000, 1)], [...ms].map(x => BigInt.asIntN(64, x * 1000n)), 'ms → us exact, beyond 2^53 via BigInt')
  const s = BigInt64Array.from([1714564801n, -1n, 2n ** 40n])
  t.same([...rescale(s, 1_000_000, 1)], [...s].map(x => x * 1_000_000n))
})

t.test('cost: linear in the rows, 50k vs 200k', async (t) => {
  const inputs = new Map<number, { b: RecordBatch, nsBatch: RecordBatch }>()
  for (const n of [50_000, 200_000]) {
    const [b] = makeTable(n, { batchRows: n }).batches
    const nsField = [new Field('t', new Timestamp(TimeUnit.NANOSECOND, 'UTC'), false)]
    const values = BigInt64Array.from({ length: n }, (_, i) => 1714564800000000000n + BigInt(i) * 1_000_003n)
    const nsBatch = new RecordBatch(new Schema(nsField), makeData({
      type: new Struct(nsField), length: n, nullCount: 0, children: [makeData({ type: nsField[0].type, length: n, nullCount: 0, data: values })]
    }))
    inputs.set(n, { b, nsBatch })
  }
  t.equal(tableFromIPC(toIpcStream([inputs.get(200_000)!.b])).numRows, 200_000)
  // CPU at n and 4n compared in this run (test/helpers/cost.ts), not fixed milliseconds.
  const ipc = await growth((n) => toIpcStream([inputs.get(n)!.b]), 50_000)
  const ingested = await growth((n) => withIngestedAt(inputs.get(n)!.b, Date.now()), 50_000)
  const cast = await growth((n) => castTimestampsToMicros(inputs.get(n)!.nsBatch), 50_000)
  t.comment(`toIpcStream ${ipc.text}; withIngestedAt ${ingested.text}; cast ns→us ${cast.text}`)
  t.ok(ipc.ratio < LINEAR, `toIpcStream linear: ${ipc.text}`)
  t.ok(ingested.ratio < LINEAR, `withIngestedAt linear: ${ingested.text}`)
  t.ok(cast.ratio < LINEAR, `cast ns→us linear: ${cast.text}`)
})
