import { test } from 'tap'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { type DataType, DateDay, DateMillisecond, Field, makeData, RecordBatch, Schema, Struct, Table, tableToIPC, Time, TimeUnit, Timestamp } from 'apache-arrow'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { parquetFiles } from '../reliability/lib/parquet.ts'
import { isoDate, isoMicros, jsonValueOf } from '../../src/read/json-value.ts'

/*
 * date32, date64 and timestamps past JavaScript's Date range (±100,000,000 days) are legal Arrow
 * values (DuckDB writes `'infinity'::DATE` as date32 2^31−1 and `'infinity'::TIMESTAMP` as int64
 * max) that the gateway stores; the NDJSON read path printed them through Date#toISOString and
 * answered 500 or cut the connection (RangeError: Invalid time value). They now print with ISO
 * 8601 expanded years. Times outside the day printed garbage (`00:00:00.0000-1`); they print as a
 * signed elapsed time.
 */

const INT64_MAX = 2n ** 63n - 1n
const INT64_MIN = -(2n ** 63n)

function column (type: DataType, values: Array<number | bigint>) {
  const data = type instanceof DateDay || (type instanceof Time && type.bitWidth === 32)
    ? Int32Array.from(values as number[])
    : BigInt64Array.from(values as bigint[])
  const d = makeData({ type, length: values.length, nullCount: 0, data } as never)
  const json = jsonValueOf(type)
  return values.map((_, i) => json(d, i))
}

test('inside Date\'s range the integer spelling is Date#toISOString\'s', async (t) => {
  const days = [0, -1, 1, -719_468, -719_469, -719_528, -719_529, 2_932_896, 2_932_897, 100_000_000, -100_000_000, 11_016, -141_427]
  for (let k = 0; k < 20_000; k++) days.push(Math.floor((Math.random() - 0.5) * 2e8))
  t.same(days.filter((n) => isoDate(n) !== new Date(n * 86_400_000).toISOString().split('T')[0]), [], `${days.length} days`)
  const micros = [0n, -1n, 1n, 86_399_999_999n, -86_400_000_000n, -62_135_596_800_000_001n, 253_402_300_800_000_000n, 8_640_000_000_000_000_000n, -8_640_000_000_000_000_000n]
  for (let k = 0; k < 20_000; k++) micros.push(BigInt(Math.floor((Math.random() - 0.5) * 1.7e16)) * 1000n + BigInt(Math.floor(Math.random() * 1000)))
  const viaDate = (us: bigint) => {
    const ms = us >= 0n ? us / 1000n : (us - 999n) / 1000n
    return new Date(Number(ms)).toISOString().replace('Z', `${String(us - ms * 1000n).padStart(3, '0')}Z`)
  }
  t.same(micros.filter((us) => isoMicros(us) !== viaDate(us)), [], `${micros.length} timestamps`)
})

test('dates, timestamps and times past Date\'s range or the day print, never throw', async (t) => {
  t.same(column(new DateDay(), [100_000_001, 2_147_483_647, -2_147_483_648, -719_529]),
    ['+275760-09-14', '+5881580-07-11', '-5877641-06-23', '-000001-12-31'])
  t.same(column(new DateMillisecond(), [10n ** 18n, INT64_MAX, INT64_MIN, -1n]),
    ['+31690708-07-05', '+292278994-08-17', '-292275055-05-16', '1969-12-31'])
  t.same(column(new Timestamp(TimeUnit.MICROSECOND, 'UTC'), [9_000_000_000_000_000_000n, INT64_MAX, INT64_MIN, 8_640_000_000_000_000_001n]),
    ['+287168-08-24T16:00:00.000000Z', '+294247-01-10T04:00:54.775807Z', '-290308-12-21T19:59:05.224192Z', '+275760-09-13T00:00:00.000001Z'])
  t.same(column(new Timestamp(TimeUnit.SECOND), [INT64_MAX, -1n]), ['+292277026596-12-04T15:30:07.000000Z', '1969-12-31T23:59:59.000000Z'])
  t.same(column(new Timestamp(TimeUnit.NANOSECOND), [-1n, INT64_MAX]), ['1969-12-31T23:59:59.999999Z', '2262-04-11T23:47:16.854775Z'])
  t.same(column(new Time(TimeUnit.MICROSECOND, 64), [-1n, 0n, 86_399_999_999n, 86_400_000_000n, INT64_MAX]),
    ['-00:00:00.000001', '00:00:00.000000', '23:59:59.999999', '24:00:00.000000', '2562047788:00:54.775807'])
  t.same(column(new Time(TimeUnit.NANOSECOND, 64), [-1n, 90_000_000_000_001n]), ['-00:00:00.000000001', '25:00:00.000000001'])
  t.same(column(new Time(TimeUnit.MILLISECOND, 32), [-295_952, -2_147_483_648, 2_147_483_647]), ['-00:04:55.952000', '-596:31:23.648000', '596:31:23.647000'])
  t.same(column(new Time(TimeUnit.SECOND, 32), [-5, 3_000_000]), ['-00:00:05.000000', '833:20:00.000000'])
})

test('GET …/records as NDJSON answers 200 and prints what DuckDB reads from the same objects', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const writer = localToken(dataDir, ['write', 'read'])
  const time = new Time(TimeUnit.MICROSECOND, 64)
  const struct = new Struct([new Field('t', time, true)])
  const fields = [new Field('d', new DateDay(), true), new Field('ts', new Timestamp(TimeUnit.MICROSECOND, 'UTC'), true), new Field('s', struct, true)]
  const schema = new Schema(fields)
  const days = Int32Array.from([19_844, 100_000_001, 2_147_483_647])
  const stamps = BigInt64Array.from([1_714_564_800_000_000n, 9_000_000_000_000_000_000n, 253_402_300_800_000_000n])
  const times = BigInt64Array.from([3_723_000_004n, 0n, 86_399_999_999n])
  const children = [
    makeData({ type: new DateDay(), length: 3, nullCount: 0, data: days }),
    makeData({ type: new Timestamp(TimeUnit.MICROSECOND, 'UTC'), length: 3, nullCount: 0, data: stamps }),
    makeData({ type: struct, length: 3, nullCount: 0, children: [makeData({ type: time, length: 3, nullCount: 0, data: times })] })
  ]
  const batch = new RecordBatch(schema, makeData({ type: new Struct(fields), length: 3, nullCount: 0, children }))
  const sent = await app.inject({ method: 'POST', url: '/v1/topics/far/records', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' }, payload: Buffer.from(tableToIPC(new Table([batch]), 'stream')) })
  t.same([sent.statusCode, sent.json().rows], [200, 3])

  const ndjson = await app.inject({ method: 'GET', url: '/v1/topics/far/records', headers: { authorization: `Bearer ${writer}`, accept: 'application/x-ndjson' } })
  t.equal(ndjson.statusCode, 200)
  const rows = ndjson.body.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).map(({ d, ts, s }) => ({ d, ts, s }))
  t.same(rows, [
    { d: '2024-05-01', ts: '2024-05-01T12:00:00.000000Z', s: { t: '01:02:03.000004' } },
    { d: '+275760-09-14', ts: '+287168-08-24T16:00:00.000000Z', s: { t: '00:00:00.000000' } },
    { d: '+5881580-07-11', ts: '+010000-01-01T00:00:00.000000Z', s: { t: '23:59:59.999999' } }
  ])

  // DuckDB reads the same stored values: dates and timestamps as they print, less the ISO sign
  // (its DATE 2^31−1 is 'infinity').
  const db = await DuckDBInstance.create(':memory:')
  const con = await db.connect()
  t.teardown(() => { con.closeSync(); db.closeSync() })
  const files = parquetFiles(join(dataDir, 'far')).map((f) => `'${f}'`).join(', ')
  const read = await con.runAndReadAll(`SELECT d::VARCHAR AS d, strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ') AS ts, s.t::VARCHAR AS t FROM read_parquet([${files}]) ORDER BY epoch_us(ts)`)
  t.same(read.getRowObjectsJson(), [
    { d: '2024-05-01', ts: '2024-05-01T12:00:00.000000Z', t: '01:02:03.000004' },
    { d: 'infinity', ts: '10000-01-01T00:00:00.000000Z', t: '23:59:59.999999' },
    { d: '275760-09-14', ts: '287168-08-24T16:00:00.000000Z', t: '00:00:00' }
  ])
})
