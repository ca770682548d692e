import { Bool, Field, Float64, Int64, Schema, TimeUnit, Timestamp, Utf8, type DataType } from 'apache-arrow'

const INT = /^[+-]?\d{1,18}$/
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const BOOL = /^(true|false)$/i
const ISO = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?([zZ]|[+-]\d\d:?\d\d)?$/

/**
 * Picks a column type from sample values (strings from CSV, JS values from JSON): the narrowest
 * of int64, double, bool, timestamp[us, tz=UTC] that every non-empty value fits, else string.
 * Every inferred field is nullable: a sample cannot prove the opposite.
 */
export function inferType (values: unknown[]): DataType {
  let int = true
  let float = true
  let bool = true
  let ts = true
  let seen = 0
  for (const v of values) {
    if (v === null || v === undefined || v === '') continue
    seen++
    if (typeof v === 'number') {
      bool = false
      ts = false
      if (!Number.isInteger(v)) int = false
      continue
    }
    if (typeof v === 'boolean') { int = false; float = false; ts = false; continue }
    if (typeof v !== 'string') return new Utf8()
    if (int && !INT.test(v)) int = false
    if (float && !FLOAT.test(v)) float = false
    if (bool && !BOOL.test(v)) bool = false
    if (ts && !ISO.test(v)) ts = false
    if (!int && !float && !bool && !ts) return new Utf8()
  }
  if (seen === 0) return new Utf8()
  if (int) return new Int64()
  if (float) return new Float64()
  if (bool) return new Bool()
  if (ts) return new Timestamp(TimeUnit.MICROSECOND, 'UTC')
  return new Utf8()
}

export function inferSchema (names: string[], columns: unknown[][]): Schema {
  return new Schema(names.map((name, j) => new Field(name, inferType(columns[j]), true)))
}
