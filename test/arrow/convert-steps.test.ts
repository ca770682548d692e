import t from 'tap'
import {
  type Data, type DataType, DateDay, DateMillisecond, Dictionary, Field, Float16, Float32, Float64, Int32, Int64, Int8, LargeUtf8, makeData, makeVector,
  RecordBatch, Schema, Struct, TimeNanosecond, TimeSecond, TimestampMillisecond, TimestampMicrosecond, TimestampNanosecond, TimestampSecond, Uint32, Utf8, vectorFromArray
} from 'apache-arrow'
import { convertData, convertSteps, nullData } from '../../src/arrow/convert.ts'
import { normaliseBatchPaced, normaliseSteps } from '../../src/arrow/normalise-paced.ts'
import { matchSchema, normaliseBatch } from '../../src/arrow/compare.ts'
import { STEP_ROWS } from '../../src/arrow/steps.ts'
import { SchemaMismatchError } from '../../src/errors.ts'

/*
 * The conversions as steps (src/arrow/steps.ts): paced or run at once, into fresh or reused
 * (dirty) memory, they give exactly what apache-arrow's own reading of the source gives.
 */

/** Memory as a BufferLease hands it out: whatever the last user left there. */
const dirty = (n: number): Uint8Array => new Uint8Array(n).fill(0xa5)

/** The values as apache-arrow reads them; 64-bit ones from their buffer (its getters refuse µs/ns beyond 2^53). */
const values = (d: Data): unknown[] => d.values instanceof BigInt64Array ? [...d.values.subarray(0, d.length)].map(String) : [...makeVector(d)]

function run (d: Data, to: DataType, alloc?: (n: number) => Uint8Array): { data: Data, yields: number } {
  const steps = convertSteps(d, to, 'f', alloc)
  let yields = 0
  for (;;) {
    const r = steps.next()
    if (r.done === true) return { data: r.value, yields }
    yields++
  }
}

const N = 3 * STEP_ROWS + 5

t.test('a dictionary of strings (any index width, large values, nulls in rows and in the dictionary, a sliced column) gathers as apache-arrow reads it', async (t) => {
  const dict = vectorFromArray(['alpha', null, 'a value longer than thirty-two bytes, copied whole', ''], new LargeUtf8())
  const idx = Uint32Array.from({ length: N }, (_, i) => i % 4)
  const nulls = Uint8Array.from({ length: (N + 7) >> 3 }, (_, i) => i % 3 === 0 ? 0xef : 0xff)
  const col = makeData({ type: new Dictionary(new LargeUtf8(), new Uint32()), length: N, nullCount: -1, nullBitmap: nulls, data: idx, dictionary: dict })
  const expected = [...makeVector(col)]
  for (const to of [new Utf8(), new LargeUtf8()]) {
    const { data, yields } = run(col, to, dirty)
    t.equal(String(data.type), String(to))
    t.same([...makeVector(data)], expected, `→ ${String(to)}`)
    t.ok(yields >= 6, `yields between slices (${yields})`)
    t.same([...makeVector(convertData(col, to, 'f'))], expected, `→ ${String(to)}, at once`)
  }
  const sliced = col.slice(STEP_ROWS + 3, STEP_ROWS)
  t.same([...makeVector(run(sliced, new Utf8(), dirty).data)], [...makeVector(sliced)], 'a column sliced at an odd offset')

  const small = makeData({ type: new Dictionary(new Utf8(), new Int8()), length: 3, nullCount: 0, data: Int8Array.of(0, 5, 1), dictionary: vectorFromArray(['a', 'b'], new Utf8()) })
  t.throws(() => convertData(small, new Utf8(), 'f'), /dictionary index 5 out of range/)
})

t.test('64-bit values by their words: timestamps rescaled exactly on both sides of 2^53, negative ones, overflow named', async (t) => {
  const big = [0n, -1n, 1_714_564_800_123n, -62_135_596_800_000n, 9_007_199_254_740_993n / 1000n, 9_223_372_036_854_775n, -9_223_372_036_854_775n, 9_007_199_254_740n]
  const ms = makeData({ type: new TimestampMillisecond('UTC'), length: big.length, nullCount: 0, data: BigInt64Array.from(big) })
  t.same(values(run(ms, new TimestampMicrosecond('UTC'), dirty).data), big.map((v) => String(v * 1000n)))
  const s = makeData({ type: new TimestampSecond(), length: big.length, nullCount: 0, data: BigInt64Array.from(big.map((v) => v / 1_000_000n)) })
  t.same(values(run(s, new TimestampNanosecond(), dirty).data), big.map((v) => String(v / 1_000_000n * 1_000_000_000n)), 's → ns: products past 2^53 by BigInt')
  const over = makeData({ type: new TimestampMillisecond('UTC'), length: 1, nullCount: 0, data: BigInt64Array.of(9_223_372_036_854_776n) })
  t.throws(() => convertData(over, new TimestampMicrosecond('UTC'), 'at'), new SchemaMismatchError('at: value 9223372036854776 does not fit the topic\'s finer unit'))

  const days = makeData({ type: new DateMillisecond(), length: 3, nullCount: 0, data: BigInt64Array.of(0n, -1n, 1_714_564_800_123n) })
  t.same(values(run(days, new DateDay(), dirty).data), [0, -86_400_000, 19844 * 86_400_000].map((v) => new Date(v).valueOf()))
  const tod = makeData({ type: new TimeSecond(), length: 2, nullCount: 0, data: Int32Array.of(0, 86_399) })
  t.same(values(run(tod, new TimeNanosecond(), dirty).data), ['0', '86399000000000'])
})

t.test('widened numbers: signed and unsigned ints to int64, float32 and float16 to double', async (t) => {
  const i32 = makeData({ type: new Int32(), length: 4, nullCount: 0, data: Int32Array.of(0, -1, 2 ** 31 - 1, -(2 ** 31)) })
  t.same(values(run(i32, new Int64(), dirty).data), ['0', '-1', '2147483647', '-2147483648'])
  const u32 = makeData({ type: new Uint32(), length: 2, nullCount: 0, data: Uint32Array.of(0, 2 ** 32 - 1) })
  t.same(values(run(u32, new Int64(), dirty).data), ['0', '4294967295'])
  const f32 = makeData({ type: new Float32(), length: 2, nullCount: 0, data: Float32Array.of(1.5, -0.25) })
  t.same(values(run(f32, new Float64(), dirty).data), [1.5, -0.25])
  const f16 = makeData({ type: new Float16(), length: 2, nullCount: 0, data: Uint16Array.of(0x3e00, 0xc000) })
  t.same(values(run(f16, new Float64(), dirty).data), [1.5, -2])
})

t.test('nulls for an omitted field: zeroed buffers for flat types, read as apache-arrow builds them', async (t) => {
  for (const type of [new Int64(), new Utf8(), new LargeUtf8(), new Float64(), new TimestampMicrosecond('UTC'), new DateDay()]) {
    const d = nullData(type, 1000)
    t.same([d.length, d.nullCount, [...makeVector(d)].every((v) => v === null)], [1000, 1000, true], String(type))
  }
})

t.test('a batch normalised paced (into reused memory) is the batch normaliseBatch gives, in slices', async (t) => {
  const n = 200_000
  const name = new Dictionary(new LargeUtf8(), new Uint32())
  const at = new TimestampMillisecond('UTC')
  const fields = [new Field('name', name, true), new Field('at', at, false)]
  const children = [
    makeData({ type: name, length: n, nullCount: 0, data: Uint32Array.from({ length: n }, (_, i) => i % 2), dictionary: vectorFromArray(['x', 'yy'], new LargeUtf8()) }),
    makeData({ type: at, length: n, nullCount: 0, data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)) })
  ]
  const batch = new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: n, nullCount: 0, children }))
  const topic = new Schema([new Field('at', new TimestampMicrosecond('UTC'), false), new Field('name', new Utf8(), true), new Field('gone', new Utf8(), true)])
  const match = matchSchema(topic, batch.schema)
  if (!match.ok) throw new Error(match.message)
  const paced = await normaliseBatchPaced(batch, topic, match.reorder, { alloc: dirty })
  const whole = normaliseBatch(batch, topic, match.reorder)
  t.equal(paced.schema, topic, 'the topic schema object itself')
  t.same(paced.toArray().map((r) => r.toJSON()), whole.toArray().map((r) => r.toJSON()))
  let yields = 0
  for (const g = normaliseSteps(batch, topic, match.reorder); g.next().done !== true;) yields++
  t.ok(yields > 2 * n / STEP_ROWS, `slices: ${yields}`)
})
