import { Field, Float64, Int64, makeData, RecordBatch, Schema, Struct, TimeUnit, Timestamp, Utf8, vectorFromArray } from 'apache-arrow'
import { toIpcStream } from '../arrow/encode.ts'

/** The README walkthrough's `events` topic: what `quiver sample` produces rows for. */
const AT_TYPE = new Timestamp(TimeUnit.MICROSECOND, 'UTC')
export const SAMPLE_FIELDS = [
  new Field('id', new Int64(), false),
  new Field('kind', new Utf8(), true),
  new Field('value', new Float64(), true),
  new Field('at', AT_TYPE, true)
]
const KINDS = ['click', 'view', 'purchase']
/** 2026-01-01T00:00:00Z in µs: every sample starts there, one row every 1.000250 s. */
const START_US = 1_767_225_600_000_000n

/** The largest id an int64 column holds: `firstId + rows - 1` must not pass it. */
export const MAX_ID = 2n ** 63n - 1n

/**
 * `rows` deterministic sample rows as one Arrow IPC stream (ids from `firstId`): the same
 * command always writes the same bytes, so a walkthrough can print the answers it gets.
 * Ids are BigInt throughout: a Number loses them past 2^53 (9007199254740993 became …992, twice).
 */
export function sampleStream (rows: number, firstId = 1n): Uint8Array {
  if (firstId < 0n || firstId + BigInt(rows) - 1n > MAX_ID) throw new RangeError(`ids ${firstId}..${firstId + BigInt(rows) - 1n} do not fit int64`)
  const ids = new BigInt64Array(rows)
  const values = new Float64Array(rows)
  const at = new BigInt64Array(rows)
  const kinds: string[] = []
  let seed = 42
  for (let i = 0; i < rows; i++) {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648 // a fixed LCG: reproducible, not uniform
    ids[i] = firstId + BigInt(i)
    kinds.push(KINDS[seed % 7 < 4 ? 1 : seed % 7 < 6 ? 0 : 2])
    values[i] = Math.round((seed % 10_000) / 10) / 100
    at[i] = START_US + BigInt(i) * 1_000_250n
  }
  const children = [
    makeData({ type: new Int64(), length: rows, nullCount: 0, data: ids }),
    vectorFromArray(kinds, new Utf8()).data[0],
    makeData({ type: new Float64(), length: rows, nullCount: 0, data: values }),
    makeData({ type: AT_TYPE, length: rows, nullCount: 0, data: at })
  ]
  const schema = new Schema(SAMPLE_FIELDS)
  const batch = new RecordBatch(schema, makeData({ type: new Struct(SAMPLE_FIELDS), length: rows, nullCount: 0, children }))
  return toIpcStream([batch], schema)
}
