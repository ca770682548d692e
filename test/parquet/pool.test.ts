import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { tableFromIPC } from 'apache-arrow'
import { readParquet } from 'parquet-wasm'
import { DuckDBInstance } from '@duckdb/node-api'
import { createEncoderPool } from '../../src/parquet/pool.ts'
import { makeIpc, BASE_US } from './make-ipc.ts'

t.test('encodes readable Parquet: parquet-wasm and DuckDB read back exact rows, values and types', async (t) => {
  const pool = createEncoderPool({ threads: 2, compression: 'zstd' })
  t.teardown(() => pool.close())
  t.equal(pool.threads, 2)
  const n = 5000
  const parquet = await pool.encode(makeIpc(n))
  t.same([...parquet.subarray(0, 4)], [0x50, 0x41, 0x52, 0x31], 'PAR1 magic')

  const back = tableFromIPC(readParquet(parquet).intoIPCStream())
  t.equal(back.numRows, n)
  t.same(back.schema.fields.map((f) => [f.name, String(f.type), f.nullable]), [
    ['id', 'Int64', false], ['name', 'Utf8', true], ['score', 'Float64', true],
    ['ts', 'Timestamp<MICROSECOND, UTC>', false], ['ok', 'Bool', true]
  ])
  const row = back.get(4999)!.toJSON()
  t.equal(row.id, 4999n * 1_000_000_007n)
  t.equal(row.name, 'user-999')
  t.equal(row.score, 4999 / 4)
  t.equal(back.get(0)!.toJSON().name, null)

  const file = join(t.testdir(), 'x.parquet')
  writeFileSync(file, parquet)
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  const desc = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).getRowObjectsJS()
  t.same(desc.map((d) => [d.column_name, d.column_type]), [
    ['id', 'BIGINT'], ['name', 'VARCHAR'], ['score', 'DOUBLE'], ['ts', 'TIMESTAMP WITH TIME ZONE'], ['ok', 'BOOLEAN']
  ])
  const agg = (await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n, sum(id)::HUGEINT::VARCHAR AS ids, count(name)::BIGINT AS names,
    sum(score) AS scores, count(ok)::BIGINT AS oks, sum(ok::INT)::BIGINT AS trues,
    epoch_us(min(ts))::BIGINT AS t0, epoch_us(max(ts))::BIGINT AS t1 FROM read_parquet('${file}')`)).getRowObjectsJS()[0]
  let sumScores = 0
  for (let r = 0; r < n; r++) if (r % 11 !== 0) sumScores += r / 4
  t.same(agg, {
    n: BigInt(n),
    ids: String(BigInt(n * (n - 1) / 2) * 1_000_000_007n),
    names: BigInt(n - Math.ceil(n / 7)),
    scores: sumScores,
    oks: BigInt(n - n / 5),
    trues: BigInt(Array.from({ length: n }, (_, r) => r).filter((r) => r % 5 !== 0 && r % 2 === 0).length),
    t0: BASE_US,
    t1: BASE_US + 4999n * 1_000_001n
  })
  const meta = (await conn.runAndReadAll(`SELECT DISTINCT m.compression, s.logical_type::VARCHAR AS lt FROM parquet_metadata('${file}') m
    JOIN parquet_schema('${file}') s ON s.name = m.path_in_schema WHERE s.name = 'ts'`)).getRowObjectsJS()
  t.equal(meta.length, 1)
  t.equal(meta[0].compression, 'ZSTD')
  t.match(meta[0].lt, /TimestampType\(isAdjustedToUTC=1, unit=TimeUnit\(MILLIS=<null>, MICROS=MicroSeconds\(\), NANOS=<null>\)\)/)
})

t.test('compression option and input handling', async (t) => {
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  const ipc100 = makeIpc(100)
  for (const [c, name] of [['snappy', 'SNAPPY'], ['lz4', 'LZ4_RAW'], ['none', 'UNCOMPRESSED']] as const) {
    const pool = createEncoderPool({ threads: 1, compression: c })
    const out = await pool.encode(ipc100.slice())
    await pool.close()
    const file = join(t.testdir(), `${c}.parquet`)
    writeFileSync(file, out)
    const r = (await conn.runAndReadAll(`SELECT DISTINCT compression FROM parquet_metadata('${file}')`)).getRowObjectsJS()
    const n = (await conn.runAndReadAll(`SELECT count(*)::INT AS n FROM read_parquet('${file}')`)).getRowObjectsJS()
    t.same(r, [{ compression: name }], c)
    t.same(n, [{ n: 100 }])
  }
  const pool = createEncoderPool({ threads: 1, compression: 'zstd' })
  t.teardown(() => pool.close())
  // A view into a larger buffer is copied, never detached under the caller's other data.
  const ipc = makeIpc(10)
  const big = new Uint8Array(ipc.byteLength + 16)
  big.set(ipc, 8)
  const view = big.subarray(8, 8 + ipc.byteLength)
  t.equal(tableFromIPC(readParquet(await pool.encode(view)).intoIPCStream()).numRows, 10)
  t.equal(big.byteLength, ipc.byteLength + 16, 'the larger buffer is intact')
  const owned = ipc.slice()
  await pool.encode(owned)
  t.equal(owned.byteLength, 0, 'a whole buffer is transferred (zero copy)')
  await t.rejects(pool.encode(new Uint8Array([1, 2, 3])), 'garbage IPC rejects')
  await pool.close()
  await t.rejects(pool.encode(makeIpc(1)), /closed/)
})

t.test('big encodes leave the event loop responsive; throughput per thread and pooled', async (t) => {
  const rows = 200_000
  const inputs = Array.from({ length: 2 }, (_, i) => makeIpc(rows, i * rows))
  const mib = inputs[0].byteLength / 1048576

  const one = createEncoderPool({ threads: 1, compression: 'zstd' })
  await one.encode(makeIpc(1000))
  const h = monitorEventLoopDelay({ resolution: 5 })
  let t0 = performance.now()
  h.enable()
  await one.encode(inputs[0].slice())
  h.disable()
  const single = performance.now() - t0
  await one.close()
  const maxLagMs = h.max / 1e6
  t.comment(`single thread: ${mib.toFixed(1)} MiB IPC in ${single.toFixed(0)} ms = ${(mib / single * 1000).toFixed(1)} MiB/s; event loop max delay ${maxLagMs.toFixed(1)} ms`)
  t.ok(maxLagMs < Math.max(100, single / 3), `event loop max delay ${maxLagMs.toFixed(1)} ms while encoding for ${single.toFixed(0)} ms`)

  const pool = createEncoderPool({ threads: 2, compression: 'zstd' })
  await Promise.all([pool.encode(makeIpc(1000)), pool.encode(makeIpc(1000))])
  t0 = performance.now()
  const outs = await Promise.all(inputs.map((b) => pool.encode(b)))
  const pooled = performance.now() - t0
  await pool.close()
  t.comment(`pool of 2: ${(2 * mib).toFixed(1)} MiB in ${pooled.toFixed(0)} ms = ${(2 * mib / pooled * 1000).toFixed(1)} MiB/s`)
  t.same(outs.map((o) => tableFromIPC(readParquet(o).intoIPCStream()).numRows), [rows, rows])
})

t.test('warm() starts the threads ahead of the first encode, which then works as usual', async (t) => {
  const pool = createEncoderPool({ threads: 2, compression: 'zstd' })
  t.teardown(() => pool.close())
  await pool.warm!()
  const parquet = await pool.encode(makeIpc(100))
  t.equal(tableFromIPC(readParquet(parquet).intoIPCStream()).numRows, 100)
})
