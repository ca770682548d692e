import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Bool, Field, Int64, makeData, RecordBatch, Schema, Struct, TimestampMillisecond, Utf8, tableFromIPC, vectorFromArray } from 'apache-arrow'
import { readParquet, writeParquet, Table as WasmTable } from 'parquet-wasm'
import { EncodeAhead, leafColumns, MIN_CHUNK_BYTES, type Piece } from '../../src/pipeline/encode-ahead.ts'
import type { BatchEntry } from '../../src/pipeline/batcher.ts'
import { assembleParquet, concatChunks } from '../../src/parquet/assemble.ts'
import { castTimestampsToMicros, toIpcStream } from '../../src/arrow/encode.ts'
import { createEncoderPool } from '../../src/parquet/pool.ts'
import { createFsStorage } from '../../src/storage/fs.ts'
import { createPipeline } from '../../src/pipeline/pipeline.ts'
import { toArrowSchema } from '../../src/schema/types.ts'
import type { TopicRecord } from '../../src/schema/topic-schema.ts'
import type { ParquetEncoder } from '../../src/parquet/types.ts'
import { manualClock } from '../helpers/clock.ts'
import { waitFor } from '../helpers/wait.ts'
import { wideInt64Batch } from '../helpers/arrow.ts'

const schema = new Schema([
  new Field('id', new Int64(), false),
  new Field('event', new Utf8(), true),
  new Field('at', new TimestampMillisecond('UTC'), false),
  new Field('ok', new Bool(), true)
])

function batch (from: number, n: number): RecordBatch {
  const ids = Array.from({ length: n }, (_, i) => from + i)
  const children = [
    vectorFromArray(ids.map(BigInt), schema.fields[0].type).data[0],
    vectorFromArray(ids.map((i) => i % 4 === 0 ? null : `e${i % 3}`), schema.fields[1].type).data[0],
    vectorFromArray(ids.map((i) => 1_767_225_600_000 + i), schema.fields[2].type).data[0],
    vectorFromArray(ids.map((i) => i % 5 === 0 ? null : i % 2 === 0), schema.fields[3].type).data[0]
  ]
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }))
}

type Entry = BatchEntry<{ batches: RecordBatch[], at: number, topic: string }>
const ROW_BYTES = 20
function entry (from: number, sizes: number[], o: { retain?: boolean, partition?: string } = {}): Entry {
  const batches: RecordBatch[] = []
  for (const n of sizes) { batches.push(batch(from, n)); from += n }
  const rows = sizes.reduce((a, b) => a + b, 0)
  return { payload: { batches, at: 1_767_225_600_000, topic: 't' }, rows, bytes: rows * ROW_BYTES, partition: o.partition ?? 'p', retain: o.retain ?? false }
}

/** A real encode (parquet-wasm, on this thread), recorded so tests see which rows each group held. */
function recorder () {
  const groups: number[][] = []
  const encode = async (pieces: Piece[]): Promise<Uint8Array> => {
    groups.push(pieces.flatMap((p) => Array.from(p.batch.getChild('id')!.toArray() as BigInt64Array, Number)))
    // As flush.ts does: pieces keep the rows as they arrived, timestamps go to µs on the way in.
    return writeParquet(WasmTable.fromIPCStream(toIpcStream(pieces.map((p) => castTimestampsToMicros(p.batch)))))
  }
  return { groups, encode }
}

const idsOf = (parts: Uint8Array[]): number[] => {
  const table = tableFromIPC(readParquet(concatChunks(assembleParquet(parts))).intoIPCStream())
  return Array.from(table.getChild('id')!.toArray() as BigInt64Array, Number)
}
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i)

t.test('full row groups start encoding on arrival; the flush gets exactly its rows, in order', async (t) => {
  const rec = recorder()
  const ahead = new EncodeAhead({ rowGroupBytes: 1000 * ROW_BYTES, threads: 2, encode: rec.encode })
  const a = entry(0, [700, 900], { retain: true }) // accepted: no early encode for a partial group
  ahead.add(a)
  t.same(rec.groups.map((g) => g.length), [1000], 'one full group encoding before any flush')
  const b = entry(1600, [250], { retain: true })
  ahead.add(b)
  t.same(rec.groups.map((g) => g.length), [1000], 'a partial group of accepted rows waits')
  const parts = await ahead.take('p', [a, b])
  t.same(rec.groups.map((g) => g.length), [1000, 850], 'the rest is encoded at flush')
  t.same(idsOf(parts), range(0, 1850))
})

t.test('a durable request with an idle encoder starts its partial group at once (≥ 1/8 of a group)', async (t) => {
  const rec = recorder()
  const ahead = new EncodeAhead({ rowGroupBytes: 1000 * ROW_BYTES, threads: 2, encode: rec.encode })
  ahead.add(entry(0, [50])) // under 1/8: waits for company
  t.same(rec.groups, [])
  const e = entry(50, [100])
  ahead.add(e)
  t.same(rec.groups.map((g) => g.length), [150])
})

t.test('groups straddling the flush are undone: later rows are encoded again, none twice, none lost', async (t) => {
  const rec = recorder()
  const ahead = new EncodeAhead({ rowGroupBytes: 1000 * ROW_BYTES, threads: 2, encode: rec.encode })
  const a = entry(0, [600], { retain: true })
  const b = entry(600, [600], { retain: true }) // its first 400 rows share a's group
  ahead.add(a)
  ahead.add(b)
  t.same(rec.groups.map((g) => g.length), [1000])
  // The batcher flushed `a` alone (b did not fit): the shared group cannot be used.
  t.same(idsOf(await ahead.take('p', [a])), range(0, 600))
  ahead.forget(a)
  t.same(idsOf(await ahead.take('p', [b])), range(600, 1200))
})

t.test('a dropped entry never reaches a later object, even from a group it shared', async (t) => {
  const rec = recorder()
  const ahead = new EncodeAhead({ rowGroupBytes: 1000 * ROW_BYTES, threads: 2, encode: rec.encode })
  const a = entry(0, [500], { retain: true })
  const b = entry(500, [500], { retain: true })
  ahead.add(a)
  ahead.add(b)
  t.equal(rec.groups.length, 1)
  ahead.forget(a) // e.g. closed and answered with an error
  t.same(idsOf(await ahead.take('p', [b])), range(500, 1000))
  // A storage failure keeps the groups: the retry encodes nothing again.
  const c = entry(1000, [1200], { retain: true })
  ahead.add(c)
  const encodes = rec.groups.length
  t.same(idsOf(await ahead.take('p', [c])), range(1000, 2200))
  t.same(idsOf(await ahead.take('p', [c])), range(1000, 2200))
  t.equal(rec.groups.length, encodes + 1, 'only the tail was encoded for the first take')
})

t.test('encoded bytes count while a group is kept for a flush, and are given back exactly once however it ends', async (t) => {
  const rec = recorder()
  let held = 0
  let counted!: () => void
  let gate: Promise<void> = Promise.resolve()
  const ahead = new EncodeAhead({
    rowGroupBytes: 1000 * ROW_BYTES,
    threads: 2,
    encode: async (pieces) => { await gate; return await rec.encode(pieces) },
    held: (d) => { held += d; if (d > 0) counted() }
  })
  const next = () => new Promise<void>((resolve) => { counted = resolve })
  const size = (parts: Uint8Array[]) => parts.reduce((n, p) => n + p.byteLength, 0)
  const a = entry(0, [600], { retain: true })
  const b = entry(600, [600], { retain: true })
  const encoded = next()
  ahead.add(a)
  ahead.add(b) // one full group: a's 600 rows and b's first 400
  await encoded
  t.ok(held > 0, 'the full group, encoded before any flush, is counted')
  // Flushing `a` alone undoes the shared group (its bytes go) and encodes a's rows on their own.
  const partsA = await ahead.take('p', [a])
  t.equal(held, size(partsA), 'only the group the flush takes is counted')
  ahead.forget(a)
  t.equal(held, 0, 'committed: a\'s group is given back; b\'s rows wait unencoded')
  const partsB = await ahead.take('p', [b])
  t.equal(held, size(partsB))
  ahead.forget(b)
  ahead.forget(b)
  t.equal(held, 0, 'given back once, even when forgotten twice')
  // A group whose entry is dropped while it is being encoded is never counted.
  let open!: () => void
  gate = new Promise((resolve) => { open = resolve })
  const c = entry(1200, [1000], { retain: true })
  ahead.add(c)
  t.equal(ahead.running, 1)
  ahead.forget(c)
  open()
  await waitFor(() => ahead.running === 0, 'the cancelled encode to end')
  t.equal(held, 0)
  t.same(rec.groups.map((g) => g.length), [1000, 600, 600, 1000])
})

t.test('a wide schema\'s row groups hold at least MIN_CHUNK_BYTES a column: a flush of 300 columns is one part, not one per rowGroupBytes', async (t) => {
  t.equal(MIN_CHUNK_BYTES, 32 * 1024)
  const rows = 1000
  const wideBatch = wideInt64Batch(300, rows)
  t.equal(leafColumns(wideBatch.schema), 300)
  t.equal(leafColumns(new Schema([new Field('s', new Struct([new Field('a', new Int64()), new Field('b', new Utf8())]))])), 2, 'leaves of nested types')
  const bytes = rows * 300 * 8 // 2.3 MiB: over 4 × rowGroupBytes, under 300 × 32 KiB
  const pieces: number[] = []
  const ahead = new EncodeAhead({
    rowGroupBytes: 512 * 1024,
    minChunkBytes: MIN_CHUNK_BYTES,
    threads: 2,
    encode: async (group) => { pieces.push(group.reduce((n, p) => n + p.batch.numRows, 0)); return writeParquet(WasmTable.fromIPCStream(toIpcStream(group.map((p) => p.batch)))) }
  })
  const e: Entry = { payload: { batches: [wideBatch], at: 0, topic: 't' }, rows, bytes, partition: 'p', retain: true }
  ahead.add(e)
  t.same(pieces, [], 'no group is full yet')
  const parts = await ahead.take('p', [e])
  t.same(pieces, [1000], 'one group of every row')
  t.equal(parts.length, 1)
  // A narrow schema keeps rowGroupBytes (4 columns × 1,000 bytes under it).
  const narrow = new EncodeAhead({ rowGroupBytes: 1000 * ROW_BYTES, minChunkBytes: 1000, threads: 2, encode: recorder().encode })
  const n = entry(0, [2500], { retain: true })
  narrow.add(n)
  t.equal((await narrow.take('p', [n])).length, 3)
})

t.test('at most threads + 1 groups are turned into IPC at once; the groups a flush waits for go first', async (t) => {
  const started: number[] = []
  const gates: Array<() => void> = []
  const ahead = new EncodeAhead({
    rowGroupBytes: 100 * ROW_BYTES,
    threads: 1,
    encode: async (pieces) => {
      started.push(Number(pieces[0].batch.getChild('id')!.get(0)))
      await new Promise<void>((resolve) => gates.push(resolve))
      // As flush.ts does: pieces keep the rows as they arrived, timestamps go to µs on the way in.
      return writeParquet(WasmTable.fromIPCStream(toIpcStream(pieces.map((p) => castTimestampsToMicros(p.batch)))))
    }
  })
  const a = entry(0, [500], { retain: true, partition: 'a' })
  const b = entry(500, [100], { retain: true, partition: 'b' })
  ahead.add(a)
  t.same(started, [0, 100], 'five full groups, two started: one encoding, one ready')
  ahead.add(b)
  const flushed = ahead.take('b', [b])
  t.same(started, [0, 100], 'the flush\'s group is not turned into IPC while threads + 1 encodes run')
  gates.shift()!()
  await new Promise((resolve) => setImmediate(resolve))
  t.same(started, [0, 100, 500], 'the waiting flush does not queue behind groups nobody waits for yet')
  while (gates.length > 0) {
    gates.shift()!()
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.same(idsOf(await flushed), range(500, 600))
  t.same(started, [0, 100, 500, 200, 300, 400], 'the rest follows as threads free up')
})

t.test('partitions accumulate apart', async (t) => {
  const rec = recorder()
  const ahead = new EncodeAhead({ rowGroupBytes: 1000 * ROW_BYTES, threads: 2, encode: rec.encode })
  const a = entry(0, [600], { retain: true, partition: 'x' })
  const b = entry(600, [600], { retain: true, partition: 'y' })
  ahead.add(a)
  ahead.add(b)
  t.same(rec.groups, [], 'neither partition holds a full group')
  t.same(idsOf(await ahead.take('y', [b])), range(600, 1200))
  t.same(idsOf(await ahead.take('x', [a])), range(0, 600))
})

t.test('pipeline: a durable request is encoded on both threads before its window closes; one object with its rows', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-ahead-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const pool = createEncoderPool({ threads: 2, compression: 'zstd' })
  t.teardown(() => pool.close())
  const encodes: number[] = []
  let running = 0
  let overlapped = false
  const encoder: ParquetEncoder = {
    threads: 2,
    async encode (ipc, o) {
      encodes.push(performance.now())
      if (++running > 1) overlapped = true
      try { return await pool.encode(ipc, o) } finally { running-- }
    },
    async close () {}
  }
  const storage = await createFsStorage({ dir })
  const topic: TopicRecord = { name: 'ahead', createdAt: '2026-01-01T00:00:00.000Z', schema: { fields: [{ name: 'id', type: 'int64', nullable: false }, { name: 'event', type: 'string', nullable: true }, { name: 'at', type: 'timestamp[ms, tz=UTC]', nullable: false }, { name: 'ok', type: 'bool', nullable: true }] } }
  t.same(toArrowSchema(topic.schema).fields.map((f) => String(f.type)), schema.fields.map((f) => String(f.type)))
  // A long window: only encode-on-arrival can start the work before the flush.
  // The pipeline's clock stands still: its window cannot close, however long the encoding takes.
  const clock = manualClock()
  const p = createPipeline({ config: { FLUSH_INTERVAL_MS: 60_000, FLUSH_MAX_BYTES: 64 << 20, MAX_BUFFERED_BYTES: 256 << 20 }, storage, encoder, clock })
  t.teardown(() => p.close())
  const rows = 400_000 // ~10 MiB of IPC: three row groups
  const done = p.ingest(topic, [batch(0, rows)], { ack: 'durable', bytes: 0 })
  await waitFor(() => encodes.length >= 2, 'two row groups to start encoding', { timeoutMs: 120_000 })
  t.ok(encodes.length >= 2 && overlapped, 'two row groups encoding at once, the window still open')
  t.equal(clock.now(), 0, 'no time passed on the pipeline\'s clock: no flush started them')
  await p.flushAll()
  await done
  const keys: string[] = []
  for await (const o of storage.list('ahead/')) keys.push(o.key)
  t.equal(keys.length, 1, 'one object')
  const table = tableFromIPC(readParquet((await storage.get(keys[0]))!).intoIPCStream())
  t.equal(table.numRows, rows)
  const ids = table.getChild('id')!.toArray() as BigInt64Array
  t.ok(ids.every((v, i) => v === BigInt(i)), 'every row once, in order')
  t.equal(table.getChild('event')!.get(5), 'e2')
  t.equal(table.getChild('ok')!.get(5), null)
})
