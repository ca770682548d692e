import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Field, Int32, type RecordBatch, Schema, Table, tableFromIPC, Utf8, vectorFromArray } from 'apache-arrow'
import { readParquet, writeParquet, Table as WasmTable } from 'parquet-wasm'
import { DuckDBInstance } from '@duckdb/node-api'
import pl from 'nodejs-polars'
import { parquetMetadata } from 'hyparquet'
import { RowGroupStream, STAGED_MAX_GROUP_BYTES, stagedGroupBytes } from '../../src/pipeline/row-group-stream.ts'
import { createEncoderPool } from '../../src/parquet/pool.ts'
import type { ParquetEncoder } from '../../src/parquet/types.ts'
import { COPY_STEP, toIpcStream } from '../../src/arrow/encode.ts'
import { writerProperties } from '../../src/parquet/writer-props.ts'
import { makeIpc, BASE_US } from '../parquet/make-ipc.ts'

const batchesOf = (n: number, start: number): RecordBatch[] => tableFromIPC(makeIpc(n, start)).batches

async function collect (out: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const c of out) chunks.push(c.slice())
  return Buffer.concat(chunks)
}

const rowsOf = (p: Uint8Array) => tableFromIPC(readParquet(p).intoIPCStream()).toArray()
  .map((r) => JSON.stringify(r.toJSON(), (_k, v) => typeof v === 'bigint' ? v.toString() : v))

/** The pool's encodes, watched: how many ran at once, and each one's promise. */
function watched (pool: ParquetEncoder) {
  const w = { running: 0, most: 0, calls: 0, background: 0, encodes: [] as Array<Promise<unknown>> }
  const encoder: ParquetEncoder = {
    threads: pool.threads,
    async encode (ipc, o) {
      w.calls++
      if (o?.background === true) w.background++
      w.most = Math.max(w.most, ++w.running)
      const p = pool.encode(ipc, o).finally(() => { w.running-- })
      w.encodes.push(p)
      return await p
    },
    async close () {}
  }
  return { w, encoder }
}

t.test('batches of every size become one object of many row groups, read back row for row like a single-pass encode (parquet-wasm, DuckDB, polars, hyparquet)', async (t) => {
  const pool = createEncoderPool({ threads: 2, compression: 'zstd' })
  t.teardown(() => pool.close())
  const { w, encoder } = watched(pool)
  // Batch sizes around the group size: a single row, small ones filling a group, one spanning several.
  const sizes = [1, 700, 3000, 20_000, 5, 4096, 9000]
  const batches: RecordBatch[] = []
  let start = 0
  for (const n of sizes) { batches.push(...batchesOf(n, start)); start += n }
  const schema = batches[0].schema
  const stream = new RowGroupStream({ encoder, schema, rowGroupBytes: 64 * 1024, metadata: { 'quiver.test': 'yes', 'quiver.topic': 'events', 'quiver.idempotency_keys': 'abc:1' } })
  const out = collect(stream.output())
  for (const b of batches) await stream.write(b)
  stream.end()
  const object = await out
  t.equal(stream.rows, start)
  t.ok(w.calls >= 10, `encoded as ${w.calls} row groups`)
  t.equal(w.background, w.calls, 'every row group is a background encode: flushes go first')
  t.ok(w.most >= 2 && w.most <= 4, `${w.most} row groups handed to the pool at once: several, at most the window (threads + 2)`)

  const single = writeParquet(WasmTable.fromIPCStream(toIpcStream(batches)), writerProperties('zstd', 1 << 20))
  t.same(rowsOf(object), rowsOf(single), 'parquet-wasm: the same rows, in order, as one single-pass encode')

  const meta = parquetMetadata(object.buffer.slice(object.byteOffset, object.byteOffset + object.byteLength) as ArrayBuffer)
  t.equal(Number(meta.num_rows), start)
  t.equal(meta.row_groups.length, w.calls, 'hyparquet: one row group per encode')
  t.same(meta.row_groups.map((g) => Number(g.num_rows)).reduce((a, b) => a + b, 0), start)
  t.equal(meta.key_value_metadata?.find((kv) => kv.key === 'quiver.test')?.value, 'yes', 'footer metadata kept')

  const file = join(t.testdir(), 'staged.parquet')
  writeFileSync(file, object)
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  const agg = (await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n, count(DISTINCT id)::BIGINT AS ids, sum(id)::HUGEINT::VARCHAR AS total,
    count(name)::BIGINT AS names, epoch_us(max(ts))::BIGINT AS last FROM read_parquet('${file}')`)).getRowObjectsJS()[0]
  t.same(agg, {
    n: BigInt(start),
    ids: BigInt(start),
    total: String(BigInt(start * (start - 1) / 2) * 1_000_000_007n),
    names: BigInt(start - Math.ceil(start / 7)),
    last: BASE_US + BigInt(start - 1) * 1_000_001n
  })
  const df = pl.readParquet(file)
  t.equal(df.height, start)
  t.equal(df.getColumn('name').get(8), 'user-8')
  t.equal(df.getColumn('score').nullCount(), Math.ceil(start / 11))
})

t.test('bounded: write() waits while `window` row groups are encoding or unread; the output is read at its own pace', async (t) => {
  const pool = createEncoderPool({ threads: 2, compression: 'zstd' })
  t.teardown(() => pool.close())
  const { w, encoder } = watched(pool)
  const stream = new RowGroupStream({ encoder, schema: batchesOf(1, 0)[0].schema, rowGroupBytes: 32 * 1024, window: 3 })
  const [big] = batchesOf(40_000, 0) // ~1.5 MiB: about 45 groups
  let written = false
  const writing = stream.write(big).then(() => { written = true; stream.end() })
  const out = stream.output()
  const head = (await out.next()).value as Uint8Array
  t.same([...head], [0x50, 0x41, 0x52, 0x31], 'PAR1 first')
  // Nothing is read yet: once the first three groups are encoded, the writer still waits.
  await Promise.all(w.encodes.slice(0, 3))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(w.calls, 3, 'three groups taken, no more')
  t.notOk(written, 'write() is waiting')
  const chunks: Uint8Array[] = [head.slice()]
  let read = 0
  for (;;) {
    const r = await out.next()
    if (r.done === true) break
    chunks.push(r.value.slice())
    read++
    t.ok(w.calls <= 3 + read, 'a group is taken only for a group read')
  }
  await writing
  t.equal(tableFromIPC(readParquet(Buffer.concat(chunks)).intoIPCStream()).numRows, 40_000)
})

t.test('an encode that fails fails the output and the writer; destroy() stops both', async (t) => {
  const schema = batchesOf(1, 0)[0].schema
  let n = 0
  const failing: ParquetEncoder = {
    threads: 2,
    // A mock: an encoder thread failing on valid input is a fault no real pool produces on demand.
    async encode (ipc) {
      if (++n === 2) throw new Error('encoder thread died')
      return writeParquet(WasmTable.fromIPCStream(ipc))
    },
    async close () {}
  }
  const s1 = new RowGroupStream({ encoder: failing, schema, rowGroupBytes: 16 * 1024 })
  const out = collect(s1.output())
  const writes = (async () => { for (const b of batchesOf(5000, 0)) await s1.write(b) })()
  await t.rejects(out, new Error('encoder thread died'))
  await writes.then(() => s1.write(batchesOf(10, 0)[0])).then(() => t.fail('write after a failed encode'), (err: Error) => t.equal(err.message, 'encoder thread died'))

  const pool = createEncoderPool({ threads: 2, compression: 'zstd' })
  t.teardown(() => pool.close())
  const s2 = new RowGroupStream({ encoder: pool, schema, rowGroupBytes: 16 * 1024, window: 2 })
  const out2 = collect(s2.output())
  const w2 = s2.write(batchesOf(20_000, 0)[0])
  s2.destroy(new Error('request aborted'))
  await t.rejects(out2, new Error('request aborted'))
  await t.rejects(w2, new Error('request aborted'))

  // No rows: no object.
  const s3 = new RowGroupStream({ encoder: pool, schema })
  const out3 = collect(s3.output())
  s3.end()
  await t.rejects(out3, new Error('a staged object needs at least one row'))
})

t.test('the encoder pool: background encodes take the threads foreground ones leave, one at a time when there are none', async (t) => {
  const pool = createEncoderPool({ threads: 1, compression: 'zstd' })
  t.teardown(() => pool.close())
  const big = toIpcStream(batchesOf(200_000, 0))
  const small = toIpcStream(batchesOf(1000, 0))
  await pool.encode(small.slice()) // the thread is up
  const order: string[] = []
  const run = (name: string, ipc: Uint8Array, background: boolean) => pool.encode(ipc.slice(), { background }).then(() => order.push(name))
  const all = [
    run('foreground a', big, false),
    run('background b1', small, true), // the one background encode: it queues behind a
    run('background b2', small, true), // waits for b1
    run('foreground c', small, false) // goes before b2
  ]
  await Promise.all(all)
  t.same(order, ['foreground a', 'background b1', 'foreground c', 'background b2'], 'the later foreground encode went before the waiting background one')
  t.equal(tableFromIPC(readParquet(await pool.encode(small.slice(), { background: true })).intoIPCStream()).numRows, 1000)
})

const MiB = 1024 * 1024
t.test('row groups by schema width: 4 MiB up to 128 columns, 32 KiB a column beyond, 16 MiB at most (a staged request holds window + 1 of them)', async (t) => {
  const schemaOf = (columns: number) => new Schema(Array.from({ length: columns }, (_, i) => new Field(`c${i}`, new Int32(), false)))
  t.equal(stagedGroupBytes(schemaOf(5)), 4 * MiB)
  t.equal(stagedGroupBytes(schemaOf(128)), 4 * MiB)
  t.equal(stagedGroupBytes(schemaOf(300)), 300 * 32 * 1024)
  t.equal(stagedGroupBytes(schemaOf(2000)), STAGED_MAX_GROUP_BYTES)
  t.equal(STAGED_MAX_GROUP_BYTES, 16 * MiB)
})

t.test('a message over COPY_STEP is copied in steps, the event loop turning between them; destroy() between steps stops the copy', async (t) => {
  // One 40 MiB string value: copied into fresh memory in one go, 200 MiB held the loop 0.8-1.9 s.
  const big = 'q'.repeat(40 * 1024 * 1024 - 7) + 'the end'
  const batch = new Table({ id: vectorFromArray([1, 2, 3], new Int32()), s: vectorFromArray(['a', big, 'c'], new Utf8()) }).batches[0]
  const pool = createEncoderPool({ threads: 2, compression: 'zstd' })
  t.teardown(() => pool.close())

  const stream = new RowGroupStream({ encoder: pool, schema: batch.schema })
  const out = collect(stream.output())
  let turns = 0
  let counting = true
  const count = (): void => { if (counting) { turns++; setImmediate(count) } }
  setImmediate(count)
  await stream.write(batch)
  counting = false
  t.ok(turns >= Math.floor(40 * 1024 * 1024 / COPY_STEP), `the loop turned ${turns} times while 40 MiB were copied in steps of ${COPY_STEP / 1024 / 1024} MiB`)
  stream.end()
  const table = tableFromIPC(readParquet(await out).intoIPCStream())
  t.same(table.getChild('id')!.toArray(), Int32Array.from([1, 2, 3]))
  const s = table.getChild('s')!
  t.same([s.get(0), s.get(2), s.get(1).length], ['a', 'c', big.length])
  t.ok(s.get(1) === big, 'the large value read back exactly')

  const abandoned = new RowGroupStream({ encoder: pool, schema: batch.schema })
  const out2 = collect(abandoned.output())
  const refused = [
    t.rejects(abandoned.write(batch), new Error('request aborted'), 'the copy stops at the next step'),
    t.rejects(out2, new Error('request aborted'))
  ]
  await new Promise((resolve) => setImmediate(resolve)) // the first step is copied, the next waits for its turn
  abandoned.destroy(new Error('request aborted'))
  await Promise.all(refused)
})
