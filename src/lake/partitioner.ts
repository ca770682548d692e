import { type Data, type RecordBatch, type Timestamp, Type, type Vector } from 'apache-arrow'
import { INGESTED_AT } from '../schema/types.ts'
import { PartitionKeyTooLongError, PartitionValueTooLongError, TooManyPartitionsError, ValidationError } from '../errors.ts'
import { escapePathName, formatDay, timeDirs } from './hive-path.ts'
import { isArrivalHourly, type PartitionSpec } from './partition-spec.ts'
import { takeBatch } from './take.ts'

/** Longest escaped value (UTF-8 bytes) of a key segment: file systems stop at 255 bytes a name. */
export const MAX_SEGMENT_BYTES = 200

/** The rows of one partition: `dir` is `tenant=acme/year=…/month=…/day=…[/hour=…]`. */
export interface PartitionGroup {
  dir: string
  batches: RecordBatch[]
  rows: number
}

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

const isNull = (d: Data, i: number): boolean => {
  if (d.nullCount === 0 || !d.nullBitmap || d.nullBitmap.length === 0) return false
  const j = d.offset + i
  return ((d.nullBitmap[j >> 3] >> (j & 7)) & 1) === 0
}

/** Row i → its escaped `name=value` segment, with a cache per distinct value. */
function segmentOf (name: string, vec: Vector): (i: number) => string {
  const d = vec.data[0]
  const cache = new Map<unknown, string>()
  const seg = (v: unknown, text: () => string | null): string => {
    let s = cache.get(v)
    if (s === undefined) {
      const escaped = escapePathName(text())
      if (Buffer.byteLength(escaped) > MAX_SEGMENT_BYTES) throw new PartitionValueTooLongError(name, Buffer.byteLength(escaped))
      s = `${escapePathName(name)}=${escaped}`
      cache.set(v, s)
    }
    return s
  }
  const nul = seg(null, () => null)
  switch (d.type.typeId) {
    case Type.Dictionary: {
      const dict = d.dictionary!
      return (i) => isNull(d, i) ? nul : seg((d.values as ArrayLike<number>)[i], () => dict.get(Number((d.values as ArrayLike<number>)[i])) as string | null)
    }
    case Type.Int: {
      const values = d.values as ArrayLike<number | bigint>
      return (i) => isNull(d, i) ? nul : seg(values[i], () => String(values[i]))
    }
    case Type.Bool:
      return (i) => {
        if (isNull(d, i)) return nul
        const j = d.offset + i
        const b = ((d.values[j >> 3] >> (j & 7)) & 1) === 1
        return seg(b, () => String(b))
      }
    case Type.Date: {
      const values = d.values as Int32Array
      return (i) => isNull(d, i) ? nul : seg(values[i], () => formatDay(values[i]))
    }
    default:
      return (i) => {
        const v = vec.get(i) as string | null
        return seg(v, () => v)
      }
  }
}

/** Row i → start of its UTC time bucket (ms), from a timestamp column of any unit. */
function bucketOf (name: string, vec: Vector, size: number): (i: number) => number {
  const d = vec.data[0]
  const values = d.values as BigInt64Array
  const unit = (d.type as Timestamp).unit
  const check = (i: number) => { if (isNull(d, i)) throw new ValidationError(`field "${name}" partitions by time and may not be null`) }
  // The bucket's length in the column's unit; floor division stays exact for every value: in
  // doubles while the value is (below 2^53, with the quotient corrected by its remainder: a
  // rounded quotient put the last µs of a bucket into the next from about 2112 on), in BigInt
  // beyond (the last µs of 9999 landed in year=10000).
  const per = [size / 1000, size, size * 1000, size * 1_000_000][unit]
  const perBig = BigInt(per)
  return (i) => {
    check(i)
    const big = values[i]
    const v = Number(big)
    if (unit !== 3 && v <= Number.MAX_SAFE_INTEGER && v >= -Number.MAX_SAFE_INTEGER) {
      let q = Math.floor(v / per)
      const r = v - q * per
      if (r < 0) q--
      else if (r >= per) q++
      return q * size
    }
    const q = big / perBig
    return Number(big < 0n && q * perBig !== big ? q - 1n : q) * size
  }
}

/**
 * Splits a request's batches (already normalised to the topic schema) by partition. The usual
 * layout (arrival hour, no partition columns) costs nothing per row. Otherwise each row's key is
 * computed once (values cached per distinct value), then every partition's rows are cut out of
 * the batch: zero-copy slices when they lie in a few runs, one `take` copy when they interleave.
 */
export function partitionBatches (batches: RecordBatch[], spec: PartitionSpec, atMs: number, maxDirBytes = Infinity): Map<string, PartitionGroup> {
  const steps = partitionSteps(batches, spec, atMs, maxDirBytes)
  for (let s = steps.next(); ; s = steps.next()) if (s.done === true) return s.value
}

/**
 * partitionBatches, letting the event loop run (`pause`, e.g. Slicer.pause) between batches and
 * every 64 Ki rows: one 126 MiB request of 6 M rows held the loop 7 s when split in one go.
 */
export async function partitionBatchesAsync (batches: RecordBatch[], spec: PartitionSpec, atMs: number, maxDirBytes: number, pause: () => Promise<void>, maxPartitions = Infinity): Promise<Map<string, PartitionGroup>> {
  const steps = partitionSteps(batches, spec, atMs, maxDirBytes, maxPartitions)
  for (let s = steps.next(); ; s = steps.next()) {
    if (s.done === true) return s.value
    await pause()
  }
}

/**
 * The work of partitionBatches, yielding between batches, every 4 Ki rows and every 4 Ki groups
 * cut. Stops with 422 as soon as the request feeds more than `maxPartitions` directories: a
 * request of 1,000,000 distinct values was split whole before it was refused (24-51 s, the
 * event loop held up to 42 s by the million slices and their garbage).
 */
function * partitionSteps (batches: RecordBatch[], spec: PartitionSpec, atMs: number, maxDirBytes: number, maxPartitions = Infinity): Generator<void, Map<string, PartitionGroup>, undefined> {
  const groups = new Map<string, PartitionGroup>()
  const distinct = new Set<string>()
  const add = (dir: string, b: RecordBatch) => {
    const g = groups.get(dir)
    if (g) { g.batches.push(b); g.rows += b.numRows } else groups.set(dir, { dir, batches: [b], rows: b.numRows })
  }
  const size = spec.timePartition.granularity === 'hour' ? HOUR_MS : DAY_MS
  const dirsOf = new Map<number, string>()
  const timeDir = (ms: number) => {
    let s = dirsOf.get(ms)
    if (s === undefined) { s = timeDirs(ms, spec.timePartition.granularity); dirsOf.set(ms, s) }
    return s
  }
  const byArrival = spec.timePartition.field === INGESTED_AT
  if (isArrivalHourly(spec) || (byArrival && spec.partitionBy.length === 0)) {
    const dir = timeDir(Math.floor(atMs / size) * size)
    for (const b of batches) if (b.numRows > 0) add(dir, b)
    return groups
  }
  for (const b of batches) {
    const n = b.numRows
    if (n === 0) continue
    const segs = spec.partitionBy.map((name) => segmentOf(name, b.getChild(name)!))
    const bucket = byArrival ? null : bucketOf(spec.timePartition.field, b.getChild(spec.timePartition.field)!, size)
    const arrival = timeDir(Math.floor(atMs / size) * size)
    const ids = new Map<string, number>()
    const dirs: string[] = []
    const rowGroup = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      if ((i & 0xfff) === 0xfff) yield
      let dir = ''
      for (const s of segs) dir += s(i) + '/'
      dir += bucket ? timeDir(bucket(i)) : arrival
      let id = ids.get(dir)
      if (id === undefined) {
        const bytes = Buffer.byteLength(dir)
        if (bytes > maxDirBytes) throw new PartitionKeyTooLongError(bytes, maxDirBytes)
        id = dirs.length
        ids.set(dir, id)
        dirs.push(dir)
        distinct.add(dir)
        if (distinct.size > maxPartitions) throw new TooManyPartitionsError(maxPartitions, maxPartitions)
      }
      rowGroup[i] = id
    }
    if (dirs.length === 1) { add(dirs[0], b); continue }
    yield
    for (const [g, idx] of indicesByGroup(rowGroup, dirs.length).entries()) {
      for (const part of cut(b, idx)) add(dirs[g], part)
      if ((g & 0xfff) === 0xfff) yield
    }
    yield
  }
  return groups
}

function indicesByGroup (rowGroup: Int32Array, count: number): Int32Array[] {
  const sizes = new Int32Array(count)
  for (const g of rowGroup) sizes[g]++
  const out = Array.from(sizes, (s) => new Int32Array(s))
  const fill = new Int32Array(count)
  for (let i = 0; i < rowGroup.length; i++) out[rowGroup[i]][fill[rowGroup[i]]++] = i
  return out
}

/** Rows `idx` (ascending) of a batch: slices for a few contiguous runs, else one copy. */
function cut (b: RecordBatch, idx: Int32Array): RecordBatch[] {
  const runs: Array<[number, number]> = []
  let start = idx[0]
  for (let i = 1; i <= idx.length; i++) {
    if (i === idx.length || idx[i] !== idx[i - 1] + 1) {
      runs.push([start, idx[i - 1] + 1])
      if (runs.length > 8) {
        try { return [takeBatch(b, idx)] } catch { return slicesOf(b, idx) }
      }
      start = idx[i]
    }
  }
  return runs.map(([a, e]) => b.slice(a, e))
}

/** Every contiguous run as its own zero-copy slice (for a column type take does not cover). */
function slicesOf (b: RecordBatch, idx: Int32Array): RecordBatch[] {
  const out: RecordBatch[] = []
  let start = idx[0]
  for (let i = 1; i <= idx.length; i++) {
    if (i === idx.length || idx[i] !== idx[i - 1] + 1) { out.push(b.slice(start, idx[i - 1] + 1)); start = idx[i] }
  }
  return out
}
