import {
  Bool, Field, Float64, Int64, makeData, RecordBatch, Schema, Struct, TimeUnit, Timestamp, Utf8,
  RecordBatchStreamWriter, Table, type Data
} from 'apache-arrow'

/**
 * What ordinary producers send (issue 15): int64, a low-cardinality string, a double,
 * timestamp[ms, UTC] (the gateway converts it to µs) and a bool.
 */
export const USER_FIELDS = [
  new Field('id', new Int64(), false),
  new Field('event', new Utf8(), false),
  new Field('value', new Float64(), false),
  new Field('ts', new Timestamp(TimeUnit.MILLISECOND, 'UTC'), false),
  new Field('ok', new Bool(), false)
]
const SCHEMA = new Schema(USER_FIELDS)
const EVENTS = ['click', 'view', 'purchase', 'signup', 'logout', 'search', 'scroll', 'share', 'like', 'comment', 'play', 'pause']

/** `rows` rows built from typed arrays (milliseconds for 200k rows): deterministic per seed. */
export function userBatch (rows: number, seed = 1): RecordBatch {
  let x = seed >>> 0 || 1
  const ids = new BigInt64Array(rows)
  const values = new Float64Array(rows)
  const ts = new BigInt64Array(rows)
  const ok = new Uint8Array(Math.ceil(rows / 8))
  const offsets = new Int32Array(rows + 1)
  const words = EVENTS.map((w) => new TextEncoder().encode(w))
  const pick = new Uint8Array(rows)
  let total = 0
  for (let i = 0; i < rows; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    ids[i] = BigInt(i)
    values[i] = (x % 1_000_000) / 1000
    ts[i] = 1_767_225_600_000n + BigInt(i) // 2026-01-01, one row per ms
    if (x & 1) ok[i >> 3] |= 1 << (i & 7)
    pick[i] = x % EVENTS.length
    total += words[pick[i]].length
    offsets[i + 1] = total
  }
  const bytes = new Uint8Array(total)
  for (let i = 0; i < rows; i++) bytes.set(words[pick[i]], offsets[i])
  const children = [
    makeData({ type: new Int64(), length: rows, nullCount: 0, data: ids }),
    makeData({ type: new Utf8(), length: rows, nullCount: 0, valueOffsets: offsets, data: bytes }),
    makeData({ type: new Float64(), length: rows, nullCount: 0, data: values }),
    makeData({ type: new Timestamp(TimeUnit.MILLISECOND, 'UTC'), length: rows, nullCount: 0, data: ts }),
    makeData({ type: new Bool(), length: rows, nullCount: 0, data: ok })
  ]
  return new RecordBatch(SCHEMA, makeData({ type: new Struct(USER_FIELDS), length: rows, nullCount: 0, children }))
}

/**
 * A wide table: `copies` × the five user columns (`id_3`, `kind_3`, …), each copy of its own seed,
 * e.g. 16 copies = 80 columns (issue 15's "whatever the column mix" beside the five-column batches).
 */
export function wideBatch (rows: number, copies = 16): RecordBatch {
  const fields: Field[] = []
  const children: Data[] = []
  for (let k = 0; k < copies; k++) {
    const b = userBatch(rows, k + 1)
    b.schema.fields.forEach((f, i) => {
      fields.push(new Field(`${f.name}_${k}`, f.type, f.nullable))
      children.push(b.data.children[i])
    })
  }
  return new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: rows, nullCount: 0, children }))
}

export function ipcOf (batches: RecordBatch[]): Uint8Array {
  return RecordBatchStreamWriter.writeAll(new Table(batches)).toUint8Array(true)
}

/** IPC bytes per row of this data (measured on 10k rows). */
export const USER_ROW_BYTES = ipcOf([userBatch(10_000)]).byteLength / 10_000

/** One single-batch Arrow stream of about `bytes` bytes, and its row count. */
export function userBody (bytes: number, seed = 1): { ipc: Uint8Array, rows: number } {
  const rows = Math.max(1, Math.round(bytes / USER_ROW_BYTES))
  return { ipc: ipcOf([userBatch(rows, seed)]), rows }
}
