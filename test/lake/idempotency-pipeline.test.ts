import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RecordBatch, makeData, Struct, vectorFromArray, tableFromIPC } from 'apache-arrow'
import { Table, writeParquet, readParquet } from 'parquet-wasm'
import { parquetMetadata } from 'hyparquet'
import { createFsStorage } from '../../src/storage/fs.ts'
import type { Storage } from '../../src/storage/types.ts'
import type { ParquetEncoder } from '../../src/parquet/types.ts'
import { toArrowSchema } from '../../src/schema/types.ts'
import type { TopicRecord } from '../../src/schema/topic-schema.ts'
import { createPipeline } from '../../src/pipeline/pipeline.ts'
import { writerProperties } from '../../src/parquet/writer-props.ts'
import { IDEMPOTENCY_KEYS } from '../../src/parquet/quiver-metadata.ts'
import { IdempotencyKeys } from '../../src/pipeline/idempotency.ts'
import { latestClaim } from '../../src/pipeline/key-claims.ts'

// parquet-wasm in-process: the same bytes and writer settings as the worker pool, no threads.
const encoder: ParquetEncoder = {
  threads: 0,
  async encode (ipc, o) { return writeParquet(Table.fromIPCStream(ipc), writerProperties('zstd', 1 << 20, o?.dictionaryColumns, o?.metadata)) },
  async close () {}
}
const topic: TopicRecord = { name: 'clicks', createdAt: '2026-01-01T00:00:00.000Z', schema: { fields: [{ name: 'id', type: 'int64', nullable: false }] } }
const schema = toArrowSchema(topic.schema)
const batch = (ids: number[]) => new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: ids.length, nullCount: 0, children: [vectorFromArray(ids.map(BigInt), schema.fields[0].type).data[0]] }))
const alice = { provider: 'local', sub: 'alice' }
const HOUR = Date.UTC(2026, 0, 2, 3, 0, 0)

async function setup (t: { teardown: (fn: () => unknown) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-keyed-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const fs = await createFsStorage({ dir })
  const writes: string[] = []
  const storage: Storage = { ...fs, kind: fs.kind, location: fs.location, put: async (key, body) => { writes.push(key); await fs.put(key, body) } }
  const keys = new IdempotencyKeys({ storage, ttlMs: 3_600_000, leaseMs: 30_000 })
  const pipeline = createPipeline({ config: { FLUSH_INTERVAL_MS: 60_000, FLUSH_MAX_BYTES: 1 << 20, MAX_BUFFERED_BYTES: 1 << 24 }, storage, encoder, now: () => HOUR + 5 })
  t.teardown(() => pipeline.close())
  const objects = async () => {
    const out: Array<{ key: string, ids: number[], keys: string | undefined }> = []
    for await (const info of fs.list('clicks/')) {
      const bytes = (await fs.get(info.key))!
      const kv = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer).key_value_metadata ?? []
      const ids = [...tableFromIPC(readParquet(bytes).intoIPCStream()).getChild('id')!].map(Number)
      out.push({ key: info.key, ids, keys: kv.find((e) => e.key === IDEMPOTENCY_KEYS)?.value })
    }
    return out
  }
  return { storage, keys, pipeline, writes, objects }
}

async function claim (keys: IdempotencyKeys, key: string) {
  const r = await keys.begin('clicks', alice, key)
  if (r.kind !== 'claimed') throw new Error(r.kind)
  r.claim.answer(`hash-${key}`, { status: 200, body: { key } })
  return r.claim
}

t.test('a flush names its object in every key\'s claim before writing it, and lists the keys in its footer', async (t) => {
  const { storage, keys, pipeline, writes, objects } = await setup(t)
  const k1 = await claim(keys, 'one')
  const k2 = await claim(keys, 'two')
  const done = Promise.all([
    pipeline.ingest(topic, [batch([1, 2])], { ack: 'durable', bytes: 1, key: k1 }),
    pipeline.ingest(topic, [batch([3])], { ack: 'durable', bytes: 1 }),
    pipeline.ingest(topic, [batch([4])], { ack: 'durable', bytes: 1, key: k2 })
  ])
  await pipeline.flushAll()
  await done
  const objs = await objects()
  t.equal(objs.length, 1, 'one object for the flush')
  t.same(objs[0].ids, [1, 2, 3, 4])
  t.same(objs[0].keys?.split(',').sort(), [k1.footer, k2.footer].sort())
  const dir = objs[0].key.split('/').slice(1, -1).join('/')
  t.equal(dir, 'year=2026/month=01/day=02/hour=03')
  for (const k of [k1, k2]) {
    const stored = (await latestClaim(storage, 'clicks', k.scope))!
    t.same(stored.objects, [{ key: objs[0].key, dir }], 'the claim names the object')
    t.same({ at: stored.at, dirs: stored.dirs }, { at: HOUR + 5, dirs: [dir] })
    const claimWrite = writes.findIndex((w) => w.startsWith(`_idempotency/clicks/${k.scope}/`))
    t.ok(claimWrite >= 0 && claimWrite < writes.indexOf(objs[0].key), 'claim written before the object')
  }
  t.equal(keys.inFlight, 0, 'settled once committed')
  t.equal((await keys.begin('clicks', alice, 'one')).kind, 'replay')
})

t.test('a retry of a partly committed request stores only the missing partitions, with the first ingestion time', async (t) => {
  const { keys, pipeline, objects } = await setup(t)
  const k = await claim(keys, 'part')
  // As if a dead gateway had committed this hour's object for the same request.
  Object.defineProperty(k, 'resume', { value: { at: HOUR - 3_600_000 + 7, hash: 'hash-part', committedDirs: new Set(['year=2026/month=01/day=02/hour=02']) } })
  const r = await pipeline.ingest(topic, [batch([9, 10])], { ack: 'durable', bytes: 1, key: k })
  t.same(r, { rows: 2, batches: 1 }, 'answers for the whole request')
  t.same(await objects(), [], 'nothing stored twice')
  t.equal(keys.inFlight, 0)
  t.equal((await keys.begin('clicks', alice, 'part')).kind, 'replay')
})
