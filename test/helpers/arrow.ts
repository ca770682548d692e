/**
 * Deterministic Arrow data for tests. The common test topic has
 * `id int64 not null, name string, price double, ts timestamp[us, tz=UTC] not null, ok bool`, and
 * row i is always:
 *   id = i, name = `name-${i}`, price = i * 1.5, ts = 2024-05-01T12:00:00Z + i seconds, ok = i % 2 === 0
 * so tests can compute expected sums (e.g. sum(id) over n rows = n(n-1)/2) and exact values.
 */
import { Field, Int64, makeData, RecordBatch, Schema, Struct, Table, Utf8, tableToIPC } from 'apache-arrow'
import { batchOf } from '../../src/arrow/batch.ts'
import type { FieldSpec, TopicSchema } from '../../src/schema/topic-schema.ts'
import { toArrowSchema } from '../../src/schema/types.ts'
import { rowsToBatches } from '../../src/arrow/json.ts'
import { toIpcStream } from '../../src/arrow/encode.ts'

export const TEST_FIELDS: FieldSpec[] = [
  { name: 'id', type: 'int64', nullable: false },
  { name: 'name', type: 'string', nullable: true },
  { name: 'price', type: 'double', nullable: true },
  { name: 'ts', type: 'timestamp[us, tz=UTC]', nullable: false },
  { name: 'ok', type: 'bool', nullable: true }
]
/** Topic schema for POST /v1/topics: `{ name, schema: TEST_TOPIC_SCHEMA }`. */
export const TEST_TOPIC_SCHEMA: TopicSchema = { fields: TEST_FIELDS }
/** The same as an Arrow Schema (the one makeBatch/makeTable use). */
export const TEST_ARROW_SCHEMA: Schema = toArrowSchema(TEST_TOPIC_SCHEMA)
/** ts of row 0: 2024-05-01T12:00:00Z in epoch microseconds. */
export const TEST_BASE_TS_US = 1_714_564_800_000_000n
export const TEST_BASE_TS_MS = 1_714_564_800_000

/** Row i as plain JSON (id as number, ts as ISO string), e.g. for NDJSON/JSON bodies. */
export function testRow (i: number): { id: number, name: string, price: number, ts: string, ok: boolean } {
  return { id: i, name: `name-${i}`, price: i * 1.5, ts: new Date(TEST_BASE_TS_MS + i * 1000).toISOString(), ok: i % 2 === 0 }
}

/** Rows start … start+n-1 as JSON objects. */
export function makeRows (n: number, start = 0): Array<ReturnType<typeof testRow>> {
  return Array.from({ length: n }, (_, k) => testRow(start + k))
}

/** NDJSON text of rows start … start+n-1, one per line, trailing newline. */
export function makeNdjson (n: number, start = 0): string {
  return makeRows(n, start).map(r => JSON.stringify(r) + '\n').join('')
}

/** A batch of `columns` non-null int64 columns `c0`, `c1`, … of `rows` rows: row r of column i holds r * 1000 + i. */
export function wideInt64Batch (columns: number, rows: number): RecordBatch {
  const fields = Array.from({ length: columns }, (_, i) => new Field(`c${i}`, new Int64(), false))
  return new RecordBatch(new Schema(fields), makeData({
    type: new Struct(fields),
    length: rows,
    nullCount: 0,
    children: fields.map((_f, i) => makeData({ type: new Int64(), length: rows, data: BigInt64Array.from({ length: rows }, (_v, r) => BigInt(r * 1000 + i)) }))
  }))
}

/**
 * One Arrow IPC stream of a two-column batch (`schema`: an int64 then a utf8 field, nullable or
 * not): ids start … start+n-1 and `text(id)`, built from typed arrays (fast for a million rows).
 */
export function idTextIpc (schema: Schema, start: number, n: number, text: (id: number) => string): Uint8Array {
  const ids = new BigInt64Array(n)
  const encoder = new TextEncoder()
  const bytes = Array.from({ length: n }, (_, k) => encoder.encode(text(start + k)))
  const offsets = new Int32Array(n + 1)
  for (let k = 0; k < n; k++) { ids[k] = BigInt(start + k); offsets[k + 1] = offsets[k] + bytes[k].length }
  const data = new Uint8Array(offsets[n])
  for (let k = 0; k < n; k++) data.set(bytes[k], offsets[k])
  const children = [
    makeData({ type: new Int64(), length: n, nullCount: 0, data: ids }),
    makeData({ type: new Utf8(), length: n, nullCount: 0, valueOffsets: offsets, data })
  ]
  return tableToIPC(new Table([new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }))]), 'stream')
}

/** One RecordBatch of rows start … start+n-1 whose schema is the TEST_ARROW_SCHEMA object, built straight from typed arrays (fast for 200k rows). */
export function makeBatch (n: number, start = 0): RecordBatch {
  const [fId, fName, fPrice, fTs, fOk] = TEST_ARROW_SCHEMA.fields
  const ids = new BigInt64Array(n)
  const prices = new Float64Array(n)
  const ts = new BigInt64Array(n)
  const ok = new Uint8Array((n + 7) >> 3)
  const names: string[] = new Array(n)
  for (let k = 0; k < n; k++) {
    const i = start + k
    ids[k] = BigInt(i)
    prices[k] = i * 1.5
    ts[k] = TEST_BASE_TS_US + BigInt(i) * 1_000_000n
    if (i % 2 === 0) ok[k >> 3] |= 1 << (k & 7)
    names[k] = `name-${i}`
  }
  const text = Buffer.from(names.join(''))
  const offsets = new Int32Array(n + 1)
  for (let k = 0; k < n; k++) offsets[k + 1] = offsets[k] + Buffer.byteLength(names[k])
  const children = [
    makeData({ type: fId.type, length: n, nullCount: 0, data: ids }),
    makeData({ type: fName.type, length: n, nullCount: 0, valueOffsets: offsets, data: text }),
    makeData({ type: fPrice.type, length: n, nullCount: 0, data: prices }),
    makeData({ type: fTs.type, length: n, nullCount: 0, data: ts }),
    makeData({ type: fOk.type, length: n, nullCount: 0, data: ok })
  ]
  return batchOf(TEST_ARROW_SCHEMA, children, n)
}

export interface MakeOptions {
  /** First row index (default 0). */
  start?: number
  /** Rows per batch (default 10,000). */
  batchRows?: number
}

/** Rows start … start+n-1 as a Table with TEST_ARROW_SCHEMA, split into batches of batchRows. */
export function makeTable (n: number, opts: MakeOptions = {}): Table {
  const { start = 0, batchRows = 10_000 } = opts
  const batches: RecordBatch[] = []
  for (let k = 0; k < n; k += batchRows) batches.push(makeBatch(Math.min(batchRows, n - k), start + k))
  return new Table(TEST_ARROW_SCHEMA, batches)
}

/**
 * Arrow IPC stream bytes (`application/vnd.apache.arrow.stream`).
 * - `makeIpcStream(n, opts)`: n test rows (see makeTable);
 * - `makeIpcStream(rows, fields)`: JSON rows converted with the given topic fields (same rules as
 *   NDJSON ingest, e.g. int64 from numbers, timestamps from ISO strings).
 */
export function makeIpcStream (rowsOrN: number | object[], fieldsOrOpts?: FieldSpec[] | MakeOptions): Uint8Array {
  if (typeof rowsOrN === 'number') {
    const table = makeTable(rowsOrN, Array.isArray(fieldsOrOpts) ? {} : fieldsOrOpts)
    return toIpcStream(table.batches, TEST_ARROW_SCHEMA)
  }
  const schema = toArrowSchema({ fields: Array.isArray(fieldsOrOpts) ? fieldsOrOpts : TEST_FIELDS })
  return toIpcStream(rowsToBatches(rowsOrN, schema), schema)
}

/** Arrow IPC file bytes (`application/vnd.apache.arrow.file`) of n test rows. */
export function makeIpcFile (n: number, opts: MakeOptions = {}): Uint8Array {
  return tableToIPC(makeTable(n, opts), 'file')
}

/** Splits bytes into chunks of `size` (to feed readers the way a network would). */
export function chunked (bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let i = 0; i < bytes.byteLength; i += size) out.push(bytes.subarray(i, i + size))
  return out
}

/** An async iterable over chunks, like a request body stream. */
export async function * streamOf (chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield c
}

/** Where each message of an IPC stream sits: start, metadata start and length, end of body (EOS excluded). */
export function ipcMessages (ipc: Uint8Array): Array<{ start: number, meta: number, metaLen: number, end: number }> {
  const dv = new DataView(ipc.buffer, ipc.byteOffset, ipc.byteLength)
  const out = []
  let at = 0
  while (at < ipc.byteLength) {
    const metaLen = dv.getInt32(at + 4, true)
    if (metaLen === 0) break
    const meta = at + 8
    const table = meta + dv.getUint32(meta, true)
    const vt = table - dv.getInt32(table, true)
    const field = dv.getUint16(vt, true) > 10 ? dv.getUint16(vt + 10, true) : 0
    const body = field === 0 ? 0 : Number(dv.getBigInt64(table + field, true))
    out.push({ start: at, meta, metaLen, end: meta + metaLen + body })
    at = meta + metaLen + body
  }
  return out
}

/** A copy of `ipc` whose message k claims `value` as its body length (for lying-header tests). */
/**
 * A copy of `ipc` whose message k (a RecordBatch) says `rows` rows in its header, and, when
 * `node` is given, whose field node `node.index` says `node.length` / `node.nulls`.
 */
export function setBatchHeader (ipc: Uint8Array, k: number, rows: bigint, node?: { index: number, length: bigint, nulls: bigint }): Uint8Array {
  const copy = ipc.slice()
  const dv = new DataView(copy.buffer)
  const { meta } = ipcMessages(ipc)[k]
  const message = meta + dv.getUint32(meta, true)
  const field = (table: number, i: number) => {
    const vt = table - dv.getInt32(table, true)
    return table + dv.getUint16(vt + 4 + 2 * i, true)
  }
  const headerAt = field(message, 2)
  const header = headerAt + dv.getUint32(headerAt, true)
  dv.setBigInt64(field(header, 0), rows, true)
  if (node !== undefined) {
    const nodesAt = field(header, 1)
    const nodes = nodesAt + dv.getUint32(nodesAt, true) + 4
    dv.setBigInt64(nodes + 16 * node.index, node.length, true)
    dv.setBigInt64(nodes + 16 * node.index + 8, node.nulls, true)
  }
  return copy
}

export function setBodyLength (ipc: Uint8Array, k: number, value: bigint): Uint8Array {
  const copy = ipc.slice()
  const dv = new DataView(copy.buffer)
  const { meta } = ipcMessages(ipc)[k]
  const table = meta + dv.getUint32(meta, true)
  const vt = table - dv.getInt32(table, true)
  dv.setBigInt64(table + dv.getUint16(vt + 10, true), value, true)
  return copy
}
