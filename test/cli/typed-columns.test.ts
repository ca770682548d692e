import t from 'tap'
import { batchFromColumns } from '../../src/cli/sources/columns.ts'
import { rowsToBatches } from '../../src/arrow/json-columns.ts'
import { toArrowSchema } from '../../src/schema/types.ts'
import { jsonValueOf } from '../../src/read/json-value.ts'

/*
 * One set of value rules: the CLI's CSV/JSON columns and the server's JSON rows
 * convert decimals, times, durations and fixed-size binary the same way (src/arrow/json-values.ts),
 * so a file sent with `quiver send` and the same rows POSTed as NDJSON store the same values.
 */
const schema = toArrowSchema({
  fields: [
    { name: 'price', type: 'decimal128(12, 2)', nullable: true },
    { name: 'tod', type: 'time64[us]', nullable: true },
    { name: 'tms', type: 'time32[ms]', nullable: true },
    { name: 'wait', type: 'duration[ms]', nullable: true },
    { name: 'uuid', type: 'fixed_size_binary[4]', nullable: true }
  ]
})
// CSV hands the CLI strings; JSON rows hold the same as strings or numbers
const csv = [['12.34', '-0.5', '1e3', null], ['01:02:03.000004', '23:59:59', '00:00', null], ['00:00:01.5', '12:00:00', '00:00:00.001', null], ['1500', '-3', '0', null], ['AAECAw==', '/////w==', 'AAAAAA==', null]]
const json = [
  { price: 12.34, tod: '01:02:03.000004', tms: '00:00:01.5', wait: 1500, uuid: 'AAECAw==' },
  { price: '-0.5', tod: '23:59:59', tms: '12:00:00', wait: -3, uuid: '/////w==' },
  { price: '1e3', tod: '00:00', tms: '00:00:00.001', wait: '0', uuid: 'AAAAAA==' },
  { price: null, tod: null, tms: null, wait: null, uuid: null }
]

const values = (batch: ReturnType<typeof batchFromColumns>) => schema.fields.map((f, k) => {
  const data = batch.getChildAt(k)!.data[0]
  const value = jsonValueOf(f.type)
  return Array.from({ length: batch.numRows }, (_, i) => value(data, i))
})

t.test('CLI columns and server JSON rows store the same values', async (t) => {
  const cli = batchFromColumns(schema, csv, 4, (i) => `line ${i + 2}`)
  const [server] = rowsToBatches(json, schema)
  const expected = [
    ['12.34', '-0.50', '1000.00', null],
    ['01:02:03.000004', '23:59:59.000000', '00:00:00.000000', null],
    ['00:00:01.500000', '12:00:00.000000', '00:00:00.001000', null],
    [1500, -3, 0, null],
    ['AAECAw==', '/////w==', 'AAAAAA==', null]
  ]
  t.same(values(cli), expected)
  t.same(values(server), expected)
})

t.test('the CLI refuses what the server refuses, naming line and field', async (t) => {
  const one = (col: number, v: string) => batchFromColumns(schema, schema.fields.map((_, k) => [k === col ? v : null]), 1, () => 'data.csv: line 2')
  t.throws(() => one(0, '1.234'), { message: 'data.csv: line 2: field "price": expected decimal128(12, 2), got "1.234"' })
  t.throws(() => one(1, '25:00'), { message: 'data.csv: line 2: field "tod": expected time64[us], got "25:00"' })
  t.throws(() => one(3, '1.5'), { message: 'data.csv: line 2: field "wait": expected duration[ms], got "1.5"' })
  t.throws(() => one(4, 'AAEC'), { message: 'data.csv: line 2: field "uuid": expected fixed_size_binary[4], got "AAEC"' })
})
