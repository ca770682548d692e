import t from 'tap'
import { readdirSync } from 'node:fs'
import { DuckDBInstance } from '@duckdb/node-api'
import { Field, Int64, RecordBatch, RecordBatchStreamWriter, Schema, Struct, makeData } from 'apache-arrow'
import { createTopic, startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { postProbed } from '../helpers/loop-probe.ts'

/*
 * CONTRACT §13: one request never stalls the event loop, whatever its shape. An outside pass sent
 * bodies made of many tiny record batches: 200,000 one-row batches (29 MiB) held /healthz 11-21 s
 * (apache-arrow's reader went through every message in one stretch, then the flush wrote each
 * row group's ~27,000 batches as IPC in one stretch), and 1,000,000 distinct partition values
 * were split whole, 24-51 s, before the 422 (/healthz up to 42 s). Now the reader and the IPC
 * writer let the loop turn every SLICE_MS (src/arrow/decode.ts, writeIpcStreamPaced), and the
 * partitioner stops at the first value past MAX_PARTITIONS_PER_FLUSH.
 *
 * Measured here (the most CPU the gateway's main thread spent within one gap between /healthz
 * answers, see test/helpers/loop-probe.ts healthProbe) with BATCHES one-row batches: before
 * 3,260 ms (wall 3.8 s); after 250-280 ms, most of it garbage collection. The partition case
 * (the stranger's body, by hand): before ~20 s to answer, /healthz held 15.6 s; after 0.14-0.17 s.
 */
const LIMIT_MS = 600
const BATCHES = 100_000
const SCHEMA = new Schema([new Field('id', new Int64(), false)])

/** One IPC stream of `n` one-row batches, ids 0 … n-1 (`value` maps the id to the stored value). */
function oneRowBatches (n: number, value: (i: number) => bigint = BigInt): Uint8Array {
  const writer = new RecordBatchStreamWriter()
  writer.reset(undefined, SCHEMA)
  for (let i = 0; i < n; i++) {
    const child = makeData({ type: new Int64(), length: 1, nullCount: 0, data: BigInt64Array.of(value(i)) })
    writer.write(new RecordBatch(SCHEMA, makeData({ type: new Struct(SCHEMA.fields), length: 1, nullCount: 0, children: [child] })))
  }
  writer.finish()
  return writer.toUint8Array(true)
}

t.test(`${BATCHES} one-row batches in one request: stored exactly, the event loop keeps turning`, async (t) => {
  const gw = await startGateway(t)
  await createTopic(gw, 'tiny', { fields: [{ name: 'id', type: 'int64', nullable: false }] })
  const body = oneRowBatches(BATCHES)
  const { status, text: answer, stall } = await postProbed(gw, 'tiny', body)
  t.equal(status, 200, answer)
  t.same(JSON.parse(answer), { topic: 'tiny', rows: BATCHES, batches: BATCHES, bytes: body.byteLength, ack: 'durable' })

  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  const [check] = (await conn.runAndReadAll(`SELECT count(*)::INTEGER AS rows, count(DISTINCT id)::INTEGER AS ids, min(id)::INTEGER AS first, max(id)::INTEGER AS last
    FROM read_parquet('${gw.dataDir}/tiny/**/*.parquet', hive_partitioning = false)`)).getRowObjectsJS()
  t.same(check, { rows: BATCHES, ids: BATCHES, first: 0, last: BATCHES - 1 }, 'every row once')
  t.ok(stall.heldMs < LIMIT_MS, `the gateway's event loop held at most ${stall.heldMs.toFixed(0)} ms (limit ${LIMIT_MS} ms; longest gap between /healthz answers ${stall.wallMs.toFixed(0)} ms; ${stall.answers} answers)`)
})

t.test('a request of 1,000,000 distinct partition values is refused as soon as it passes MAX_PARTITIONS_PER_FLUSH', async (t) => {
  const gw = await startGateway(t)
  const created = await fetch(`${gw.url}/v1/topics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${localToken(gw.dataDir, ['admin'])}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'parts', schema: { fields: [{ name: 'k', type: 'int64', nullable: false }] }, partitionBy: ['k'] })
  })
  t.equal(created.status, 201, await created.text())
  // One batch of a million rows, every k distinct.
  const n = 1_000_000
  const child = makeData({ type: new Int64(), length: n, nullCount: 0, data: BigInt64Array.from({ length: n }, (_v, i) => BigInt(i)) })
  const writer = new RecordBatchStreamWriter()
  writer.reset(undefined, new Schema([new Field('k', new Int64(), false)]))
  writer.write(new RecordBatch(new Schema([new Field('k', new Int64(), false)]), makeData({ type: new Struct([new Field('k', new Int64(), false)]), length: n, nullCount: 0, children: [child] })))
  writer.finish()
  const { status, text, ms: tookMs, stall } = await postProbed(gw, 'parts', writer.toUint8Array(true))
  t.equal(status, 422)
  t.same(JSON.parse(text), { statusCode: 422, code: 'QUIVER_TOO_MANY_PARTITIONS', error: 'Unprocessable Entity', message: 'The request feeds more than 1000 partitions; at most 1000 per flush (MAX_PARTITIONS_PER_FLUSH)' })
  let stored: string[] = []
  try { stored = readdirSync(`${gw.dataDir}/parts`, { recursive: true }).map(String).filter((f) => f.endsWith('.parquet')) } catch {}
  t.same(stored, [], 'nothing stored')
  t.comment(`answered in ${tookMs.toFixed(0)} ms`)
  t.ok(stall.heldMs < LIMIT_MS, `the gateway's event loop held at most ${stall.heldMs.toFixed(0)} ms (limit ${LIMIT_MS} ms; longest gap between /healthz answers ${stall.wallMs.toFixed(0)} ms)`)
})
