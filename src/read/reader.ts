import { RecordBatch, Schema, Field, Struct, makeData, tableFromIPC, vectorFromArray, Type, type Table, type Timestamp } from 'apache-arrow'
import type { Storage } from '../storage/types.ts'
import type { TopicRecord } from '../schema/topic-schema.ts'
import { INGESTED_AT } from '../schema/types.ts'
import { castTimestampsToMicros, INGESTED_AT_TYPE } from '../arrow/encode.ts'
import { topicArrowSchema } from '../arrow/topic-arrow-schema.ts'
import { Slicer } from '../arrow/json-slices.ts'
import type { CommittedFile } from './committed.ts'
import { SLICE_ROWS } from './conform.ts'

const HOUR_MS = 3_600_000
const PARTITION = /year=(\d{4})\/month=(\d{2})\/day=(\d{2})\/hour=(\d{2})\//

/**
 * An ISO 8601 date-time as µs since epoch: Date.parse keeps whole milliseconds only, and
 * `__ingested_at` has µs, so `from=…19.744500Z` fell on the wrong side of a row at `…19.744000Z`.
 * Digits finer than µs are dropped (floor). NaN-parsing texts are the caller's to refuse.
 */
export function microsOf (iso: string, ms: number): bigint {
  const fraction = /[T ]\d{2}:\d{2}:\d{2}[.,](\d+)/.exec(iso)?.[1] ?? ''
  return BigInt(Math.floor(ms)) * 1000n + BigInt(fraction.slice(3, 6).padEnd(3, '0'))
}

export interface ReadRange {
  /** Inclusive lower bound on `__ingested_at`, ms since epoch (whole ms; `fromUs` when finer). */
  from?: number
  /** Exclusive upper bound on `__ingested_at`, ms since epoch (whole ms; `toUs` when finer). */
  to?: number
  /** The same bounds in µs, as `__ingested_at` holds them (microsOf). */
  fromUs?: bigint
  toUs?: bigint
  limit: number
  /** False when keys carry event time, not arrival (lake): then no key is skipped by its hour. */
  keyTimes?: boolean
}

/** Start of the hour partition a key lives in (ms), or null for keys outside the layout. */
export function partitionStart (key: string): number | null {
  const m = PARTITION.exec(key)
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4]) : null
}

/** Schema of stored rows: the topic's, timestamps in µs, plus `__ingested_at`. */
export function storedSchemaOf (topic: TopicRecord): Schema {
  const schema = topicArrowSchema(topic)
  const children = schema.fields.map((f) => vectorFromArray([], f.type).data[0])
  const empty = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: 0, nullCount: 0, children }))
  const cast = castTimestampsToMicros(empty).schema
  return new Schema([...cast.fields, new Field(INGESTED_AT, INGESTED_AT_TYPE, false)])
}

/**
 * Row ranges [start, end) of `batch` whose `__ingested_at` (µs) lies in [from, to); `all` when
 * there is no bound. Scanned in steps of SLICE_ROWS rows, `slicer` pausing between them.
 */
async function runs (batch: RecordBatch, fromUs: bigint, toUs: bigint, all: boolean, slicer: Slicer): Promise<Array<[number, number]>> {
  const col = batch.getChild(INGESTED_AT)
  if (all || !col || col.type.typeId !== Type.Timestamp) return [[0, batch.numRows]]
  const unit = (col.type as Timestamp).unit
  const mul = [1_000_000n, 1000n, 1n, 1n][unit]
  const div = unit === 3 ? 1000n : 1n
  const out: Array<[number, number]> = []
  let start = -1
  let i = 0
  for (const data of col.data) {
    const values = data.values as BigInt64Array
    for (let j = 0; j < data.length; j++, i++) {
      const v = values[j] * mul / div
      const inside = v >= fromUs && v < toUs
      if (inside && start < 0) start = i
      if (!inside && start >= 0) { out.push([start, i]); start = -1 }
      if (j % SLICE_ROWS === SLICE_ROWS - 1) await slicer.pause()
    }
  }
  if (start >= 0) out.push([start, i])
  return out
}

/** Decodes row group `rowGroup` of a whole Parquet object to an Arrow IPC stream (off the event loop). */
export type RowGroupDecoder = (bytes: Uint8Array, rowGroup: number) => Promise<Uint8Array>

export interface ReadOptions {
  /** Default: parquet-wasm in this thread (tests, tools); the gateway passes its worker pool. */
  decode?: RowGroupDecoder
  /** An object whose footer or pages cannot be decoded: skipped, reported here. */
  onCorrupt?: (key: string, reason: string) => void
  /** The request's: the event loop gets a turn between steps once a stretch took SLICE_MS. */
  slicer?: Slicer
}

async function inThread (bytes: Uint8Array, rowGroup: number): Promise<Uint8Array> {
  // Loaded on first read: compiling the wasm module costs startup time the ingest path never needs.
  const { readParquet } = await import('parquet-wasm')
  return readParquet(bytes, { rowGroups: [rowGroup] }).intoIPCStream()
}

async function rowGroupsOf (bytes: Uint8Array): Promise<number> {
  // hyparquet loads with the first read (the server's start does not need it); import() caches it.
  const { parquetMetadata } = await import('hyparquet')
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
  return parquetMetadata(ab).row_groups.length
}

/** The object's bytes as the decoder gets them: moved when one task reads them, shared when several do. */
function forDecoder (bytes: Uint8Array, groups: number): Uint8Array {
  if (groups <= 1) return bytes
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength))
  shared.set(bytes)
  return shared
}

/**
 * Rows of the committed objects, oldest object first, filtered on `__ingested_at` and capped at
 * `limit`. Objects whose hour partition lies outside the range are not fetched at all; the
 * others are fetched one at a time and decoded one row group at a time (by `decode`, off the
 * event loop), so memory stays at about one object plus one decoded row group, and a consumer
 * that stops pulling stops the reading. Objects marked corrupt, or found so now, are skipped.
 */
export async function * readCommitted (storage: Storage, files: CommittedFile[], range: ReadRange, opts: ReadOptions = {}): AsyncGenerator<RecordBatch> {
  const fromUs = range.fromUs ?? BigInt(Math.floor(range.from ?? -8.64e15)) * 1000n
  const toUs = range.toUs ?? BigInt(Math.floor(range.to ?? 8.64e15)) * 1000n
  const decode = opts.decode ?? inThread
  const slicer = opts.slicer ?? new Slicer()
  // No bound at all: every row is in range (`__ingested_at` is an arrival time), nothing to scan.
  const all = range.from === undefined && range.to === undefined
  let left = range.limit
  for (const f of files) {
    if (left <= 0) return
    if (f.corrupt) continue
    const start = range.keyTimes === false ? null : partitionStart(f.key)
    if (start !== null && ((range.to !== undefined && start >= range.to) || (range.from !== undefined && start + HOUR_MS <= range.from))) continue
    const bytes = await storage.get(f.key)
    if (!bytes) continue // deleted since the listing
    let groups: number
    try {
      groups = await rowGroupsOf(bytes)
    } catch (err) {
      opts.onCorrupt?.(f.key, (err as Error).message)
      continue
    }
    const input = forDecoder(bytes, groups)
    for (let g = 0; g < groups && left > 0; g++) {
      let table: Table
      try {
        table = tableFromIPC(await decode(input, g)) as Table
      } catch (err) {
        opts.onCorrupt?.(f.key, (err as Error).message)
        break
      }
      await slicer.pause()
      for (const batch of table.batches) {
        for (const [a, b] of await runs(batch, fromUs, toUs, all, slicer)) {
          const n = Math.min(b - a, left)
          yield a === 0 && n === batch.numRows ? batch : batch.slice(a, a + n)
          left -= n
          if (left <= 0) return
        }
      }
    }
  }
}
