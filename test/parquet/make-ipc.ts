import {
  Bool, Field, Float64, Int64, RecordBatch, Schema, Struct, Table, TimestampMicrosecond, Utf8,
  makeData, tableToIPC, vectorFromArray
} from 'apache-arrow'

export const BASE_US = 1_767_225_600_000_000n // 2026-01-01T00:00:00Z in µs

const schema = new Schema([
  new Field('id', new Int64(), false),
  new Field('name', new Utf8(), true),
  new Field('score', new Float64(), true),
  new Field('ts', new TimestampMicrosecond('UTC'), false),
  new Field('ok', new Bool(), true)
])

/** n rows of int64/string/double/timestamp[us, UTC]/bool with some nulls, as an Arrow IPC stream. */
export function makeIpc (n: number, start = 0): Uint8Array {
  const ids = new BigInt64Array(n)
  const ts = new BigInt64Array(n)
  const names: Array<string | null> = new Array(n)
  const scores: Array<number | null> = new Array(n)
  const oks: Array<boolean | null> = new Array(n)
  for (let i = 0; i < n; i++) {
    const r = start + i
    ids[i] = BigInt(r) * 1_000_000_007n // beyond 2^53: int64 must survive exactly
    ts[i] = BASE_US + BigInt(r) * 1_000_001n // µs precision that ms would lose
    names[i] = r % 7 === 0 ? null : `user-${r % 1000}`
    scores[i] = r % 11 === 0 ? null : r / 4
    oks[i] = r % 5 === 0 ? null : r % 2 === 0
  }
  const children = [
    makeData({ type: new Int64(), length: n, data: ids }),
    vectorFromArray(names, new Utf8()).data[0],
    vectorFromArray(scores, new Float64()).data[0],
    makeData({ type: new TimestampMicrosecond('UTC'), length: n, data: ts }),
    vectorFromArray(oks, new Bool()).data[0]
  ]
  const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }))
  return tableToIPC(new Table([batch]), 'stream')
}
