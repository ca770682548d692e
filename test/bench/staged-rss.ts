// One streamed request body far over the buffers, generated on the fly, against a gateway of its
// own; prints the gateway's RSS before, peak and over time. Used to measure the staging path's
// memory for issue 15 item 3 (any batch size, any column mix):
//   node --import tsx test/bench/staged-rss.ts [--mib 1024] [--rows 100000] [--ack accepted]
//     [--shape mixed|wide|strings] [--announce] [--s3] [--dist]
// GW_NODE_OPTIONS=… is given to the gateway as NODE_OPTIONS (e.g. `--require` a script logging
// process.memoryUsage(), or `--heapsnapshot-signal=SIGUSR2`).
import { parseArgs } from 'node:util'
import { Readable } from 'node:stream'
import {
  Bool, Field, Float64, Int64, makeData, RecordBatch, RecordBatchStreamWriter, Schema, Struct, Table,
  TimeUnit, Timestamp, Utf8, type DataType
} from 'apache-arrow'
import { Client } from 'undici'
import { launchGateway, Scope } from './lib/gateway.ts'
import { launchShipped } from './lib/shipped.ts'
import { RssSampler } from './lib/proc.ts'
import { startS3rver } from '../helpers/s3rver.ts'

const MiB = 1024 * 1024
const { values: a } = parseArgs({
  options: {
    mib: { type: 'string', default: '1024' },
    rows: { type: 'string', default: '100000' },
    ack: { type: 'string', default: 'accepted' },
    shape: { type: 'string', default: 'mixed' },
    announce: { type: 'boolean', default: false },
    s3: { type: 'boolean', default: false },
    dist: { type: 'boolean', default: false }
  }
})

const WORDS = ['click', 'view', 'purchase', 'signup', 'logout', 'search', 'scroll', 'share']

/** mixed: the five columns (int64, low-cardinality string, double, timestamp[ms, UTC], bool). */
function batchOf (rows: number, shape: string): RecordBatch {
  const fields: Field[] = []
  const children: Array<ReturnType<typeof makeData>> = []
  const add = (name: string, type: DataType, data: ReturnType<typeof makeData>) => { fields.push(new Field(name, type, false)); children.push(data) }
  const ids = BigInt64Array.from({ length: rows }, (_, i) => BigInt(i))
  const str = (len: (i: number) => string) => {
    const enc = new TextEncoder()
    const parts = Array.from({ length: rows }, (_, i) => enc.encode(len(i)))
    const offsets = new Int32Array(rows + 1)
    let t = 0
    parts.forEach((p, i) => { t += p.length; offsets[i + 1] = t })
    const bytes = new Uint8Array(t)
    parts.forEach((p, i) => bytes.set(p, offsets[i]))
    return makeData({ type: new Utf8(), length: rows, nullCount: 0, valueOffsets: offsets, data: bytes })
  }
  add('id', new Int64(), makeData({ type: new Int64(), length: rows, nullCount: 0, data: ids }))
  const wide = shape === 'wide' ? 20 : 1
  for (let k = 0; k < wide; k++) {
    const sfx = k === 0 ? '' : String(k)
    add('kind' + sfx, new Utf8(), str((i) => WORDS[(i * 7 + k) % WORDS.length]))
    add('value' + sfx, new Float64(), makeData({ type: new Float64(), length: rows, nullCount: 0, data: Float64Array.from({ length: rows }, (_, i) => (i * 31 + k) % 1000 / 7) }))
    add('ts' + sfx, new Timestamp(TimeUnit.MILLISECOND, 'UTC'), makeData({ type: new Timestamp(TimeUnit.MILLISECOND, 'UTC'), length: rows, nullCount: 0, data: BigInt64Array.from({ length: rows }, (_, i) => 1_767_225_600_000n + BigInt(i)) }))
    add('ok' + sfx, new Bool(), makeData({ type: new Bool(), length: rows, nullCount: 0, data: Uint8Array.from({ length: Math.ceil(rows / 8) }, (_, i) => i * 37) }))
  }
  if (shape === 'strings') add('text', new Utf8(), str((i) => `row ${i} `.repeat(20)))
  const schema = new Schema(fields)
  return new RecordBatch(schema, makeData({ type: new Struct(fields), length: rows, nullCount: 0, children }))
}

function parts (rows: number, shape: string) {
  const b = batchOf(rows, shape)
  const one = RecordBatchStreamWriter.writeAll(new Table([b])).toUint8Array(true)
  const two = RecordBatchStreamWriter.writeAll(new Table([b, b])).toUint8Array(true)
  const batchLen = two.length - one.length
  const schemaLen = one.length - batchLen - 8
  return { schema: one.subarray(0, schemaLen), batch: one.subarray(schemaLen, schemaLen + batchLen), eos: one.subarray(one.length - 8) }
}

const scope = new Scope()
try {
  const rows = Number(a.rows)
  const p = parts(rows, a.shape)
  const repeat = Math.ceil(Number(a.mib) * MiB / p.batch.byteLength)
  const total = p.schema.byteLength + repeat * p.batch.byteLength + 8
  const s3 = a.s3 ? await startS3rver(scope as never) : null
  const env = { ...(process.env.GW_NODE_OPTIONS ? { NODE_OPTIONS: process.env.GW_NODE_OPTIONS } : {}), MAX_REQUEST_BYTES: String(4096 * MiB), ...(s3?.env ?? {}) }
  // --dist: `npm start` as the README says (dist/, built first if older than the sources).
  const gw = a.dist ? await launchShipped(scope, env) : await launchGateway(scope, env)
  const rss = new RssSampler('pid' in gw ? gw.pid : gw.proc.pid!, 50).start()
  await new Promise((resolve) => setTimeout(resolve, 500))
  const before = rss.last
  const client = new Client(gw.url, { headersTimeout: 600_000, bodyTimeout: 600_000 })
  async function * body () {
    yield p.schema
    for (let i = 0; i < repeat; i++) yield p.batch
    yield p.eos
  }
  const t0 = performance.now()
  const headers: Record<string, string> = { authorization: `Bearer ${gw.token(['write'])}`, 'content-type': 'application/vnd.apache.arrow.stream' }
  if (a.announce) headers['content-length'] = String(total)
  const r = await client.request({ method: 'POST', path: `/v1/topics/rss/records?ack=${a.ack}`, headers, body: Readable.from(body(), { objectMode: false }) })
  const answer = await r.body.text()
  const s = (performance.now() - t0) / 1000
  await client.close()
  rss.stop()
  const q = (f: number) => ((rss.samples[Math.floor(f * (rss.samples.length - 1))]?.rss ?? 0) / MiB).toFixed(0)
  console.log(JSON.stringify({
    node: process.version,
    dist: a.dist,
    shape: a.shape,
    rows,
    batchMiB: +(p.batch.byteLength / MiB).toFixed(2),
    MiB: +(total / MiB).toFixed(0),
    ack: a.ack,
    announce: a.announce,
    s3: a.s3,
    status: r.statusCode,
    answer: answer.slice(0, 200),
    seconds: +s.toFixed(1),
    rssBefore: +(before / MiB).toFixed(0),
    rssPeak: +(rss.peak / MiB).toFixed(0),
    growth: +((rss.peak - before) / MiB).toFixed(0),
    over: [0.1, 0.25, 0.5, 0.75, 0.9, 1].map(q).join('/')
  }))
} finally {
  await scope.close()
}
