import t from 'tap'
import { Bool, DateDay, Dictionary, Field, Float64, Int32, Int64, List, RecordBatch, Schema, Struct, TimeUnit, Timestamp, Utf8, vectorFromArray, makeData } from 'apache-arrow'
import { escapePathName, unescapePathName, HIVE_DEFAULT_PARTITION, timeDirs, formatDay } from '../../src/lake/hive-path.ts'
import { validatePartitionSpec, specOf } from '../../src/lake/partition-spec.ts'
import { partitionBatches } from '../../src/lake/partitioner.ts'
import { takeBatch } from '../../src/lake/take.ts'
import { partitionedObjectKey } from '../../src/keys.ts'

const rowsOf = (batches: RecordBatch[]) => batches.flatMap((b) => b.toArray().map((r) => r.toJSON()))

t.test('escapePathName escapes exactly Hive\'s set, as uppercase %XX', async (t) => {
  t.equal(escapePathName('"#%\'*/:=?\\^{[]'), '%22%23%25%27%2A%2F%3A%3D%3F%5C%5E%7B%5B%5D')
  t.equal(escapePathName('a\u007fb\u0001c\u001fd\te'), 'a%7Fb%01c%1Fd%09e')
  t.equal(escapePathName('héllo wörld 東京 🚀'), 'héllo wörld 東京 🚀', 'non-ASCII and space stay')
  t.equal(escapePathName('a-b_c.d~e!f@g$h&(i)+,;<>`|}'), 'a-b_c.d~e!f@g$h&(i)+,;<>`|}', 'characters Hive leaves alone stay')
  t.equal(escapePathName(''), HIVE_DEFAULT_PARTITION)
  t.equal(escapePathName(null), HIVE_DEFAULT_PARTITION)
  for (const s of ['a/b=c', '100%', 'x\u0001y', '東京/大阪']) t.equal(unescapePathName(escapePathName(s)), s)
  t.equal(unescapePathName(HIVE_DEFAULT_PARTITION), null)
})

t.test('time directories and dates are UTC', async (t) => {
  t.equal(timeDirs(Date.UTC(2026, 0, 2, 3, 59), 'hour'), 'year=2026/month=01/day=02/hour=03')
  t.equal(timeDirs(Date.UTC(2026, 11, 31, 23), 'day'), 'year=2026/month=12/day=31')
  t.equal(formatDay(0), '1970-01-01')
  t.equal(formatDay(-1), '1969-12-31')
  t.equal(formatDay(20454), '2026-01-01')
  t.equal(partitionedObjectKey('t', 'tenant=acme/year=2026/month=01/day=02', 'ID'), 't/tenant=acme/year=2026/month=01/day=02/ID.parquet')
})

const schema = {
  fields: [
    { name: 'tenant', type: 'string', nullable: true },
    { name: 'n', type: 'int64', nullable: true },
    { name: 'ok', type: 'bool', nullable: true },
    { name: 'd', type: 'date32[day]', nullable: true },
    { name: 'ts', type: 'timestamp[us, tz=UTC]', nullable: false },
    { name: 'maybe_ts', type: 'timestamp[ms]', nullable: true },
    { name: 'x', type: 'double', nullable: true },
    { name: 'Year', type: 'int32', nullable: true }
  ]
}

t.test('partition specs: the documented shapes pass, anything else is QUIVER_INVALID_PARTITION', async (t) => {
  t.same(validatePartitionSpec(schema, undefined, undefined), { partitionBy: [], timePartition: { field: '__ingested_at', granularity: 'hour' } })
  t.same(validatePartitionSpec(schema, ['tenant', 'n', 'ok', 'd'], { field: 'ts', granularity: 'day' }),
    { partitionBy: ['tenant', 'n', 'ok', 'd'], timePartition: { field: 'ts', granularity: 'day' } })
  t.same(validatePartitionSpec(schema, [], { field: '__ingested_at', granularity: 'day' }).timePartition, { field: '__ingested_at', granularity: 'day' })
  const bad: Array<[unknown, unknown, RegExp]> = [
    ['tenant', undefined, /array of field names/],
    [['nope'], undefined, /"nope" is not a field/],
    [['x'], undefined, /type double/],
    [['tenant', 'tenant'], undefined, /twice/],
    [['Year'], undefined, /clashes with the time directories/],
    [[1], undefined, /array of field names/],
    [[], { field: 'maybe_ts', granularity: 'hour' }, /must be declared "nullable": false/],
    [[], { field: 'n', granularity: 'hour' }, /must be a timestamp/],
    [[], { field: 'ts', granularity: 'minute' }, /"hour" or "day"/],
    [[], { field: 'ts' }, /"hour" or "day"/],
    [[], { field: 'ts', granularity: 'day', tz: 'x' }, /unknown member "tz"/],
    [[], 'ts', /must be an object/],
    [[], { field: 'gone', granularity: 'day' }, /"gone" is not a field/],
    [Array.from({ length: 9 }, (_, i) => `f${i}`), undefined, /at most 8/]
  ]
  for (const [by, tp, msg] of bad) {
    t.throws(() => validatePartitionSpec(schema, by, tp), { code: 'QUIVER_INVALID_PARTITION', statusCode: 400, message: msg }, JSON.stringify([by, tp]))
  }
  t.same(specOf({}), { partitionBy: [], timePartition: { field: '__ingested_at', granularity: 'hour' } })
})

function batch (): RecordBatch {
  const n = 6
  const tenants = ['acme', 'a/b', null, '', 'acme', '東京']
  const ts = BigInt64Array.from([0n, 3_600_000_000n, 3_600_000_000n - 1n, 86_400_000_000n, 90_000_000_000n, -1n])
  const s = new Schema([
    new Field('tenant', new Utf8(), true),
    new Field('n', new Int64(), true),
    new Field('ok', new Bool(), true),
    new Field('d', new DateDay(), true),
    new Field('ts', new Timestamp(TimeUnit.MICROSECOND, 'UTC'), false)
  ])
  const children = [
    vectorFromArray(tenants, new Utf8()).data[0],
    vectorFromArray([1n, -2n, null, 1n, 1n, 9007199254740993n], new Int64()).data[0],
    vectorFromArray([true, false, null, true, true, false], new Bool()).data[0],
    vectorFromArray([0, 20454 * 86400000, null, 0, 0, -86400000].map((v) => v === null ? null : new Date(v)), new DateDay()).data[0],
    makeData({ type: new Timestamp(TimeUnit.MICROSECOND, 'UTC'), length: n, nullCount: 0, data: ts })
  ]
  return new RecordBatch(s, makeData({ type: new Struct(s.fields), length: n, nullCount: 0, children }))
}

t.test('rows go to the partition of their values and their event-time bucket', async (t) => {
  const b = batch()
  const groups = partitionBatches([b], validatePartitionSpec(schema, ['tenant'], { field: 'ts', granularity: 'hour' }), 0)
  t.same([...groups.keys()].sort(), [
    'tenant=__HIVE_DEFAULT_PARTITION__/year=1970/month=01/day=01/hour=00',
    'tenant=__HIVE_DEFAULT_PARTITION__/year=1970/month=01/day=02/hour=00',
    'tenant=a%2Fb/year=1970/month=01/day=01/hour=01',
    'tenant=acme/year=1970/month=01/day=01/hour=00',
    'tenant=acme/year=1970/month=01/day=02/hour=01',
    'tenant=東京/year=1969/month=12/day=31/hour=23'
  ])
  const all = [...groups.values()].flatMap((g) => rowsOf(g.batches))
  t.equal(all.length, 6, 'every row once')
  t.same(rowsOf(groups.get('tenant=__HIVE_DEFAULT_PARTITION__/year=1970/month=01/day=01/hour=00')!.batches).map((r) => r.tenant), [null])
  const byAll = partitionBatches([b], validatePartitionSpec(schema, ['n', 'ok', 'd'], { field: 'ts', granularity: 'day' }), 0)
  t.same([...byAll.keys()].sort(), [
    'n=-2/ok=false/d=2026-01-01/year=1970/month=01/day=01',
    'n=1/ok=true/d=1970-01-01/year=1970/month=01/day=01',
    'n=1/ok=true/d=1970-01-01/year=1970/month=01/day=02',
    'n=9007199254740993/ok=false/d=1969-12-31/year=1969/month=12/day=31',
    'n=__HIVE_DEFAULT_PARTITION__/ok=__HIVE_DEFAULT_PARTITION__/d=__HIVE_DEFAULT_PARTITION__/year=1970/month=01/day=01'
  ])
  t.equal(byAll.get('n=1/ok=true/d=1970-01-01/year=1970/month=01/day=01')!.rows, 1)
  t.equal(byAll.get('n=1/ok=true/d=1970-01-01/year=1970/month=01/day=02')!.rows, 2)
  const arrival = partitionBatches([b, b], specOf({}), Date.UTC(2026, 4, 6, 7, 8))
  t.same([...arrival.keys()], ['year=2026/month=05/day=06/hour=07'])
  t.equal(arrival.get('year=2026/month=05/day=06/hour=07')!.batches[0], b, 'the default layout does not copy')
})

t.test('interleaved partitions are taken (one copy) and keep every value and type', async (t) => {
  const n = 1000
  const s = new Schema([
    new Field('k', new Int32(), false),
    new Field('s', new Utf8(), true),
    new Field('l', new List(new Field('item', new Float64(), true)), true),
    new Field('st', new Struct([new Field('a', new Int64(), true), new Field('b', new Bool(), true)]), true),
    new Field('dict', new Dictionary(new Utf8(), new Int32()), true)
  ])
  const rows = Array.from({ length: n }, (_, i) => ({
    k: i % 3, s: i % 7 === 0 ? null : `v${i}`, l: i % 5 === 0 ? null : [i, i + 0.5], st: { a: BigInt(i), b: i % 2 === 0 }, dict: ['x', 'y', null][i % 3]
  }))
  const children = [
    vectorFromArray(rows.map((r) => r.k), new Int32()).data[0],
    vectorFromArray(rows.map((r) => r.s), new Utf8()).data[0],
    vectorFromArray(rows.map((r) => r.l), s.fields[2].type).data[0],
    vectorFromArray(rows.map((r) => r.st), s.fields[3].type).data[0],
    vectorFromArray(rows.map((r) => r.dict), s.fields[4].type).data[0]
  ]
  const whole = new RecordBatch(s, makeData({ type: new Struct(s.fields), length: n, nullCount: 0, children }))
  // a slice, so offsets into shared buffers are exercised too
  const b = whole.slice(10, 910)
  const groups = partitionBatches([b], { partitionBy: ['k'], timePartition: { field: '__ingested_at', granularity: 'day' } } as never, 0)
  t.equal(groups.size, 3)
  const expected = rows.slice(10, 910)
  for (const k of [0, 1, 2]) {
    const g = groups.get(`k=${k}/year=1970/month=01/day=01`)!
    t.equal(g.batches.length, 1, 'one copied batch, not 300 slices')
    t.same(rowsOf(g.batches).map((r) => ({ ...r, l: r.l === null ? null : [...r.l], st: { a: r.st.a, b: r.st.b } })),
      expected.filter((r) => r.k === k).map((r) => ({ ...r })))
  }
  t.same(rowsOf([takeBatch(b, Int32Array.from([5, 0]))]).map((r) => r.s), [expected[5].s, expected[0].s])
  const few = partitionBatches([whole], { partitionBy: ['k'], timePartition: { field: '__ingested_at', granularity: 'day' } } as never, 0)
  t.equal(few.get('k=0/year=1970/month=01/day=01')!.rows, 334)
  const dictOnly = partitionBatches([b], validatePartitionSpec({ fields: [{ name: 'dict', type: 'string', nullable: true }] }, ['dict'], undefined), 0)
  t.same([...dictOnly.keys()].sort().map((k) => k.split('/')[0]), ['dict=__HIVE_DEFAULT_PARTITION__', 'dict=x', 'dict=y'])
})

t.test('a value too long for a key segment is refused with 422', async (t) => {
  const s = new Schema([new Field('tenant', new Utf8(), true)])
  const b = new RecordBatch(s, makeData({ type: new Struct(s.fields), length: 1, nullCount: 0, children: [vectorFromArray(['/'.repeat(70)], new Utf8()).data[0]] }))
  t.throws(() => partitionBatches([b], validatePartitionSpec({ fields: [{ name: 'tenant', type: 'string', nullable: true }] }, ['tenant'], undefined), 0),
    { code: 'QUIVER_PARTITION_VALUE_TOO_LONG', statusCode: 422 })
})

t.test('time buckets are exact at their edges in every unit and year, 9999-12-31T23:59:59.999999 included', async (t) => {
  const units = [
    { unit: TimeUnit.SECOND, name: 's', perMs: 1000n, div: 1n },
    { unit: TimeUnit.MILLISECOND, name: 'ms', perMs: 1n, div: 1n },
    { unit: TimeUnit.MICROSECOND, name: 'us', perMs: 1n, div: 1000n },
    { unit: TimeUnit.NANOSECOND, name: 'ns', perMs: 1n, div: 1_000_000n }
  ]
  const edges = [Date.UTC(1900, 0, 1), Date.UTC(1970, 0, 1), Date.UTC(2026, 5, 1, 13), Date.UTC(2113, 0, 1), Date.UTC(2255, 5, 6), Date.UTC(2300, 0, 1), Date.UTC(9999, 11, 31, 23)]
  for (const { unit, name, perMs, div } of units) {
    // the bucket's first instant and the instant before it (one unit earlier), in this unit
    const at = (ms: number) => BigInt(ms) * div / perMs
    // int64 nanoseconds end in 2262: later edges only in the coarser units
    const values = edges.flatMap((ms) => [at(ms) - 1n, at(ms)]).filter((v) => BigInt.asIntN(64, v) === v)
    if (unit !== TimeUnit.NANOSECOND) values.push(at(Date.UTC(10000, 0, 1)) - 1n) // the last instant of year 9999
    for (const granularity of ['hour', 'day'] as const) {
      const spec = validatePartitionSpec({ fields: [{ name: 'ts', type: `timestamp[${name}, tz=UTC]`, nullable: false }] }, [], { field: 'ts', granularity })
      const type = new Timestamp(unit, 'UTC')
      const col = makeData({ type, length: values.length, data: BigInt64Array.from(values) })
      const b = new RecordBatch(new Schema([new Field('ts', type, false)]), makeData({ type: new Struct([new Field('ts', type, false)]), length: values.length, children: [col] }))
      const groups = partitionBatches([b], spec, 0)
      // Oracle: exact floor division in BigInt, then the UTC calendar of the bucket's start.
      const size = BigInt(granularity === 'hour' ? 3_600_000 : 86_400_000) * div / perMs
      const expected = values.map((v) => {
        const q = v / size
        const bucket = (v < 0n && q * size !== v ? q - 1n : q) * size * perMs / div
        return timeDirs(Number(bucket), granularity)
      })
      const stored = [...groups].flatMap(([dir, g]) => Array(g.rows).fill(dir) as string[]).sort()
      t.same(stored, [...expected].sort(), `${name}, ${granularity}: every row in its bucket`)
      if (unit !== TimeUnit.NANOSECOND) t.equal(expected.at(-1), granularity === 'hour' ? 'year=9999/month=12/day=31/hour=23' : 'year=9999/month=12/day=31', 'the last instant of 9999 stays in 9999')
    }
  }
})
