import {
  Bool, Field, Float64, Int64, makeData, RecordBatch, Schema, Struct, TimeUnit, Timestamp, Utf8,
  RecordBatchStreamWriter, Table
} from 'apache-arrow'

/** The benchmark schema: one column of each type the issue names. */
export const BENCH_FIELDS = [
  new Field('id', new Int64(), false),
  new Field('name', new Utf8(), false),
  new Field('value', new Float64(), false),
  new Field('ts', new Timestamp(TimeUnit.MICROSECOND, 'UTC'), false),
  new Field('ok', new Bool(), false)
]
export const BENCH_SCHEMA = new Schema(BENCH_FIELDS)

/** xorshift32: deterministic, so every run encodes the same bytes. */
function rng (seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    return x
  }
}

const WORDS = ['click', 'view', 'purchase', 'signup', 'logout', 'search', 'scroll', 'share', 'like', 'comment', 'play', 'pause']

/**
 * Builds one record batch straight from typed arrays (no per-value builders), so generating the
 * 200k-row batch costs milliseconds and never pollutes the measurements.
 */
export function makeBatch (rows: number, seed = 1, startId = 0): RecordBatch {
  const r = rng(seed)
  const ids = new BigInt64Array(rows)
  const values = new Float64Array(rows)
  const ts = new BigInt64Array(rows)
  const ok = new Uint8Array(Math.ceil(rows / 8))
  const offsets = new Int32Array(rows + 1)
  const enc = new TextEncoder()
  const parts: Uint8Array[] = []
  let total = 0
  const t0 = 1_767_225_600_000_000n // 2026-01-01T00:00:00Z in µs
  for (let i = 0; i < rows; i++) {
    const x = r()
    ids[i] = BigInt(startId + i)
    values[i] = (x % 1_000_000) / 1000
    ts[i] = t0 + BigInt(i) * 1000n + BigInt(x % 1000)
    if (x & 1) ok[i >> 3] |= 1 << (i & 7)
    const s = enc.encode(`${WORDS[x % WORDS.length]}-user${(x >>> 8) % 50_000}-${(x >>> 4).toString(36)}`)
    parts.push(s)
    total += s.length
    offsets[i + 1] = total
  }
  const bytes = new Uint8Array(total)
  let o = 0
  for (const p of parts) { bytes.set(p, o); o += p.length }
  const children = [
    makeData({ type: new Int64(), length: rows, nullCount: 0, data: ids }),
    makeData({ type: new Utf8(), length: rows, nullCount: 0, valueOffsets: offsets, data: bytes }),
    makeData({ type: new Float64(), length: rows, nullCount: 0, data: values }),
    makeData({ type: new Timestamp(TimeUnit.MICROSECOND, 'UTC'), length: rows, nullCount: 0, data: ts }),
    makeData({ type: new Bool(), length: rows, nullCount: 0, data: ok })
  ]
  const data = makeData({ type: new Struct(BENCH_FIELDS), length: rows, nullCount: 0, children })
  return new RecordBatch(BENCH_SCHEMA, data)
}

/** One complete Arrow IPC stream (schema + batches + EOS) as a single buffer. */
export function toIpcStream (batches: RecordBatch[]): Uint8Array {
  const writer = RecordBatchStreamWriter.writeAll(new Table(batches))
  return writer.toUint8Array(true)
}

const cache = new Map<string, Uint8Array>()

/** IPC stream of one batch of `rows` rows, built once per (rows, seed). */
export function ipcBatch (rows: number, seed = 1): Uint8Array {
  const key = `${rows}:${seed}`
  let buf = cache.get(key)
  if (buf === undefined) {
    buf = toIpcStream([makeBatch(rows, seed)])
    cache.set(key, buf)
  }
  return buf
}

/** The bytes of the record-batch message alone (no schema, no EOS), to repeat inside one long stream. */
export function ipcParts (rows: number, seed = 1): { schema: Uint8Array, batch: Uint8Array, eos: Uint8Array } {
  const one = ipcBatch(rows, seed)
  const two = toIpcStream([makeBatch(rows, seed), makeBatch(rows, seed)])
  // two = schema + batch + batch + eos, one = schema + batch + eos: the difference is one batch message.
  const batchLen = two.length - one.length
  const eosLen = 8
  const schemaLen = one.length - batchLen - eosLen
  return {
    schema: one.subarray(0, schemaLen),
    batch: one.subarray(schemaLen, schemaLen + batchLen),
    eos: one.subarray(one.length - eosLen)
  }
}
