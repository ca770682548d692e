import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RecordBatch, type Schema, type Table as ArrowTable, tableFromIPC, vectorFromArray, makeData, Struct, type RecordBatch as RB } from 'apache-arrow'
import { Table, writeParquet, readParquet } from 'parquet-wasm'
import { createFsStorage } from '../../src/storage/fs.ts'
import type { Storage } from '../../src/storage/types.ts'
import type { ParquetEncoder } from '../../src/parquet/types.ts'
import { toArrowSchema } from '../../src/schema/types.ts'
import type { TopicRecord } from '../../src/schema/topic-schema.ts'
import { batchBytes, createPipeline, type PipelineOptions } from '../../src/pipeline/pipeline.ts'
import { writerProperties } from '../../src/parquet/writer-props.ts'
import { waitFor } from '../helpers/wait.ts'

// The encoder here runs parquet-wasm in-process (same bytes and writer settings as the worker
// pool, footer metadata included, no threads); storage is the real local-directory sink,
// optionally wrapped to fail on demand.
const encoder: ParquetEncoder = {
  threads: 0,
  async encode (ipc, o) { return writeParquet(Table.fromIPCStream(ipc), writerProperties('zstd', 1 << 20, o?.dictionaryColumns, o?.metadata)) },
  async close () {}
}

const topic: TopicRecord = {
  name: 'clicks',
  createdAt: '2026-01-01T00:00:00.000Z',
  schema: { fields: [{ name: 'id', type: 'int64', nullable: false }, { name: 'at', type: 'timestamp[ms, tz=UTC]', nullable: true }, { name: 'url', type: 'string', nullable: true }] }
}
const schema = toArrowSchema(topic.schema)

function batch (from: number, n: number): RB {
  const ids = Array.from({ length: n }, (_, i) => BigInt(from + i))
  const children = [
    vectorFromArray(ids, schema.fields[0].type).data[0],
    vectorFromArray(ids.map((i) => 1_700_000_000_000 + Number(i)), schema.fields[1].type).data[0],
    vectorFromArray(ids.map((i) => `u${i}`), schema.fields[2].type).data[0]
  ]
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }))
}

async function setup (t: { teardown: (fn: () => unknown) => void }, o: Partial<PipelineOptions> & { failing?: { on: boolean } } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-pipeline-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const fs = await createFsStorage({ dir })
  const failing = o.failing ?? { on: false }
  const storage: Storage = {
    ...fs,
    kind: fs.kind,
    location: fs.location,
    put: async (key, body) => { if (failing.on) throw new Error('disk on fire'); return fs.put(key, body) }
  }
  const p = createPipeline({ config: { FLUSH_INTERVAL_MS: 50, FLUSH_MAX_BYTES: 1 << 20, MAX_BUFFERED_BYTES: 1 << 24 }, storage, encoder, retryDelayMs: () => 20, ...o })
  t.teardown(() => p.close())
  const objects = async () => {
    const out: Array<{ key: string, table: ArrowTable }> = []
    for await (const info of fs.list('clicks/')) {
      out.push({ key: info.key, table: tableFromIPC(readParquet((await fs.get(info.key))!).intoIPCStream()) as ArrowTable })
    }
    return out
  }
  return { p, fs, failing, objects }
}

t.test('durable ingest from several writers: one object, __ingested_at and µs timestamps', async (t) => {
  const clock = Date.parse('2026-03-04T05:06:07.890Z')
  const { p, objects } = await setup(t, { now: () => clock })
  const results = await Promise.all([
    p.ingest(topic, [batch(0, 10), batch(10, 5)], { ack: 'durable', bytes: 100 }),
    p.ingest(topic, [batch(15, 5)], { ack: 'durable', bytes: 50 })
  ])
  t.same(results, [{ rows: 15, batches: 2 }, { rows: 5, batches: 1 }])
  const objs = await objects()
  t.equal(objs.length, 1)
  t.match(objs[0].key, /^clicks\/year=2026\/month=03\/day=04\/hour=05\/[0-9A-Z]{26}\.parquet$/)
  const table = objs[0].table
  t.equal(table.numRows, 20)
  t.same(table.schema.fields.map((f) => [f.name, String(f.type)]), [
    ['id', 'Int64'], ['at', 'Timestamp<MICROSECOND, UTC>'], ['url', 'Utf8'], ['__ingested_at', 'Timestamp<MICROSECOND, UTC>']
  ])
  const ids = [...table.getChild('id')!].map(Number).sort((a, b) => a - b)
  t.same(ids, Array.from({ length: 20 }, (_, i) => i))
  t.equal(Number(table.getChild('at')!.get(0)), (1_700_000_000_000 + ids[0]) * 1000 / 1000, 'µs values read back as ms by arrow js')
  t.same(new Set([...table.getChild('__ingested_at')!].map(Number)), new Set([clock]))
  const s = await p.topicStats('clicks')
  t.match(s, { bufferedRows: 0, bufferedBytes: 0, committedRows: 20, files: 1 })
  t.equal(p.stats().bufferedBytes, 0)
})

t.test('a flush crossing an hour writes one object per partition', async (t) => {
  let clock = Date.parse('2026-03-04T05:59:59.990Z')
  const { p, objects } = await setup(t, { now: () => clock })
  const a = p.ingest(topic, [batch(0, 3)], { ack: 'durable', bytes: 1 })
  clock += 20
  const b = p.ingest(topic, [batch(3, 4)], { ack: 'durable', bytes: 1 })
  await Promise.all([a, b])
  const objs = await objects()
  t.same(objs.map((o) => [o.key.split('/').slice(1, 5).join('/'), o.table.numRows]), [
    ['year=2026/month=03/day=04/hour=05', 3],
    ['year=2026/month=03/day=04/hour=06', 4]
  ])
})

t.test('over MAX_BUFFERED_BYTES: OverloadedError, capacity comes back after the flush', async (t) => {
  const { p } = await setup(t, { config: { FLUSH_INTERVAL_MS: 10_000, FLUSH_MAX_BYTES: 1 << 20, MAX_BUFFERED_BYTES: 1000 } })
  // 50 rows hold > 1000 bytes: taken because nothing else is buffered
  await p.ingest(topic, [batch(0, 50)], { ack: 'accepted', bytes: 1 })
  t.notOk(p.hasCapacity())
  await t.rejects(p.ingest(topic, [batch(50, 50)], { ack: 'accepted', bytes: 1 }), { code: 'QUIVER_OVERLOADED', statusCode: 503 })
  let waited = false
  const w = p.waitForCapacity().then(() => { waited = true })
  await new Promise(setImmediate) // one event-loop turn: a wait not held by the buffer would have resolved
  t.notOk(waited)
  await p.flushAll()
  await w
  t.ok(p.hasCapacity())
  t.match(await p.topicStats('clicks'), { committedRows: 50, files: 1 })
})

t.test('row groups encoded ahead of their flush count in MAX_BUFFERED_BYTES until their commit, then nothing stays counted', async (t) => {
  // 200k rows hold ~5 MiB: one row group (ROW_GROUP_BYTES = 4 MiB) and a rest. The group is
  // encoded at once, long before the flush (10 min away); the budget has room for the rows alone.
  const rows = batch(0, 200_000)
  const bytes = batchBytes(rows)
  t.ok(bytes > 4 * 1024 * 1024)
  let encoded!: () => void
  const grown = new Promise<void>((resolve) => { encoded = resolve })
  const { p, objects } = await setup(t, {
    config: { FLUSH_INTERVAL_MS: 600_000, FLUSH_MAX_BYTES: 1 << 30, MAX_BUFFERED_BYTES: bytes + 1024 },
    hooks: { buffered: (n) => { if (n > bytes) encoded() } }
  })
  await p.ingest(topic, [rows], { ack: 'accepted', bytes })
  t.ok(p.hasCapacity())
  await grown
  const ahead = p.bufferedBytes - bytes
  t.ok(ahead > 10_000 && ahead < bytes, `the encoded group's ${ahead} bytes are counted beside the rows`)
  t.notOk(p.hasCapacity(), 'rows and their encoded group together fill the budget')
  await t.rejects(p.ingest(topic, [batch(200_000, 10)], { ack: 'accepted', bytes: 1 }), { code: 'QUIVER_OVERLOADED', statusCode: 503 })
  await p.flushAll()
  t.equal(p.bufferedBytes, 0, 'the commit gave back the rows, the group and the assembled object')
  t.ok(p.hasCapacity())
  const files = await objects()
  t.equal(files.length, 1)
  t.equal(files[0].table.numRows, 200_000)
  t.same(files[0].table.getChild('id')!.get(199_999), 199_999n)
})

t.test('rows that encode alone but not together are written as objects of their own, never acknowledged unwritten', async (t) => {
  // Fault injection (no real encoder fails this way; validation makes encoding failures
  // unreachable): any encode holding rows of both requests fails, each request alone encodes.
  // Such a failure once answered both requests 200 with nothing stored.
  const together: ParquetEncoder = {
    threads: 0,
    async encode (ipc, o) {
      const ids = Array.from(tableFromIPC(ipc).getChild('id')!.toArray() as BigInt64Array, Number)
      if (ids.some((i) => i < 1000) && ids.some((i) => i >= 1000)) throw new Error('injected: these rows do not encode together')
      return await encoder.encode(ipc, o)
    },
    async close () {}
  }
  const { p, objects } = await setup(t, { encoder: together })
  const answers = await Promise.all([
    p.ingest(topic, [batch(0, 10)], { ack: 'durable', bytes: 1 }),
    p.ingest(topic, [batch(1000, 5)], { ack: 'durable', bytes: 1 })
  ])
  t.same(answers.map((a) => a.rows), [10, 5])
  const files = await objects()
  t.equal(files.length, 2, 'one object per request')
  const ids = files.flatMap((f) => Array.from(f.table.getChild('id')!.toArray() as BigInt64Array, Number)).sort((a, b) => a - b)
  t.same(ids, [...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 5 }, (_, i) => 1000 + i)])
  t.equal(p.bufferedBytes, 0)
})

t.test('storage failure: durable waiters get 503 and their rows are dropped; accepted rows are kept and retried', async (t) => {
  const { p, failing, objects } = await setup(t)
  failing.on = true
  const accepted = await p.ingest(topic, [batch(0, 7)], { ack: 'accepted', bytes: 1 })
  t.same(accepted, { rows: 7, batches: 1 })
  await t.rejects(p.ingest(topic, [batch(100, 3)], { ack: 'durable', bytes: 1 }), { code: 'QUIVER_STORAGE_UNAVAILABLE', statusCode: 503 })
  await t.rejects(p.flushAll(), { code: 'QUIVER_STORAGE_UNAVAILABLE' })
  t.equal(p.stats().topics.clicks.bufferedRows, 7, 'the acknowledged rows are still buffered')
  t.same(await objects(), [])
  failing.on = false
  // Retried by the backoff timer, no flush call needed.
  await waitFor(async () => (await objects()).length > 0, 'the retried flush to commit')
  const objs = await objects()
  t.equal(objs.length, 1)
  t.same([...objs[0].table.getChild('id')!].map(Number), [0, 1, 2, 3, 4, 5, 6], 'accepted rows once, durable rows never')
})

t.test('committed stats of earlier runs come from a listing and Parquet footers', async (t) => {
  const { p, fs } = await setup(t)
  await p.ingest(topic, [batch(0, 12)], { ack: 'durable', bytes: 1 })
  await p.ingest(topic, [batch(12, 8)], { ack: 'durable', bytes: 1 })
  const fresh = createPipeline({ config: { FLUSH_INTERVAL_MS: 50, FLUSH_MAX_BYTES: 1 << 20, MAX_BUFFERED_BYTES: 1 << 24 }, storage: fs, encoder })
  const files = await fresh.files('clicks')
  t.same(files.map((f) => f.rows), [12, 8])
  t.ok(files.every((f) => f.bytes > 0 && /^clicks\/year=/.test(f.key) && !Number.isNaN(Date.parse(f.createdAt))))
  const s = await fresh.topicStats('clicks')
  t.same({ ...s, lastFlushAt: typeof s.lastFlushAt }, { bufferedRows: 0, bufferedBytes: 0, committedRows: 20, committedBytes: files[0].bytes + files[1].bytes, files: 2, lastFlushAt: 'string' })
  await fresh.close()
})

t.test('subscribers see every accepted batch; close() writes what is buffered', async (t) => {
  const { p, objects } = await setup(t, { config: { FLUSH_INTERVAL_MS: 60_000, FLUSH_MAX_BYTES: 1 << 20, MAX_BUFFERED_BYTES: 1 << 24 } })
  const seen: number[] = []
  const off = p.subscribe('clicks', (b: RB, s: Schema) => { seen.push(b.numRows); t.same(s.fields.map((f) => f.name), ['id', 'at', 'url']) })
  await p.ingest(topic, [batch(0, 2), batch(2, 3)], { ack: 'accepted', bytes: 1 })
  off()
  await p.ingest(topic, [batch(5, 4)], { ack: 'accepted', bytes: 1 })
  t.same(seen, [2, 3])
  await p.close()
  t.equal((await objects())[0].table.numRows, 9)
  await t.rejects(p.ingest(topic, [batch(0, 1)], { ack: 'accepted', bytes: 1 }), { code: 'QUIVER_SHUTTING_DOWN' })
})
