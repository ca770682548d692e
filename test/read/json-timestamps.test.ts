import { test } from 'tap'
import { TimeUnit, Timestamp, makeData } from 'apache-arrow'
import { isoMicros, jsonValueOf } from '../../src/read/json-value.ts'

// Microsecond timestamps take a number path (and reuse the last millisecond's date part): it
// must spell every value exactly as the BigInt path does, negatives and the safe-integer edge included.
test('µs timestamps: the number path spells what isoMicros spells', async (t) => {
  const values = [0n, 1n, 999n, 1000n, -1n, -999n, -1000n, -1001n, 1_714_564_800_000_000n, 1_714_564_800_000_001n,
    1_714_564_800_000_999n, -62_135_596_800_000_000n, 253_402_300_799_999_999n, 8_639_999_999_999_999_999n, -8_639_999_999_999_999_999n, 9_007_199_254_740_991n, 9_007_199_254_740_992n, -9_007_199_254_740_993n]
  for (let k = 0; k < 2000; k++) values.push(BigInt(Math.floor((Math.random() - 0.5) * 2 * 8.6e15)))
  for (let k = 0; k < 50; k++) values.push(1_714_564_800_000_000n + BigInt(k)) // same millisecond, cached date part
  const type = new Timestamp(TimeUnit.MICROSECOND)
  const data = makeData({ type, length: values.length, nullCount: 0, data: BigInt64Array.from(values) })
  const json = jsonValueOf(type)
  const wrong = values.filter((v, i) => json(data, i) !== isoMicros(v))
  t.same(wrong, [], `${values.length} values spelt alike`)
  // Past the Date range both paths spell an expanded year alike (test/read/out-of-range-values.test.ts).
  const far = makeData({ type, length: 1, nullCount: 0, data: BigInt64Array.from([9_000_000_000_000_000_000n]) })
  t.equal(json(far, 0), '+287168-08-24T16:00:00.000000Z')
  t.equal(isoMicros(9_000_000_000_000_000_000n), '+287168-08-24T16:00:00.000000Z')
})
