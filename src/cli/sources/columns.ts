import { DataType, makeBuilder, makeData, RecordBatch, Struct, type Data, type Field, type Schema } from 'apache-arrow'
import { describe, toDecimal, toDuration, toFixedBytes, toTime } from '../../arrow/json-values.ts'
import { formatType } from '../../schema/types.ts'

/**
 * Where row i of a batch sits in its file, for error messages: `big.csv: line 120345`. A batch
 * is a slice of the file, so its own row numbers would point at the wrong place.
 */
export type RowLabel = (i: number) => string

/**
 * Turns one column of raw values (strings from CSV, JS values from JSON) into Arrow data of the
 * field's type. Numbers, booleans and timestamps are written straight into typed arrays because
 * the generic builders are several times slower on million-row files.
 */
export function columnData (field: Field, values: unknown[], label: RowLabel): Data {
  const type = field.type
  const n = values.length
  const validity = new Uint8Array((n + 7) >> 3)
  let nulls = 0
  const isNull = (v: unknown, i: number): boolean => {
    if (v === null || v === undefined || (v === '' && !isText(type))) {
      if (!field.nullable) throw noValue(field, label(i))
      nulls++
      return true
    }
    validity[i >> 3] |= 1 << (i & 7)
    return false
  }
  const fixed = (data: ArrayLike<unknown> & { [i: number]: unknown }, conv: (v: unknown) => unknown) => {
    for (let i = 0; i < n; i++) {
      const v = values[i]
      if (!isNull(v, i)) {
        const c = conv(v)
        if (c === undefined) throw bad(field, label(i), v)
        data[i] = c
      }
    }
    return makeData({ type, length: n, nullCount: nulls, nullBitmap: nulls ? validity : null, data } as never)
  }
  if (DataType.isTimestamp(type)) {
    const scale = [1e-3, 1, 1e3, 1e6][type.unit]
    return fixed(new BigInt64Array(n), v => { const ms = toEpochMs(v); return ms === undefined ? undefined : BigInt(Math.round(ms * scale)) })
  }
  if (DataType.isInt(type)) {
    if (type.bitWidth === 64) return fixed(type.isSigned ? new BigInt64Array(n) : new BigUint64Array(n), toInt64)
    return fixed(new type.ArrayType(n), v => { const x = Number(v); return Number.isInteger(x) ? x : undefined })
  }
  if (DataType.isFloat(type) && type.precision > 0) {
    return fixed(new type.ArrayType(n), v => { const x = typeof v === 'number' ? v : Number(v); return Number.isNaN(x) && v !== 'NaN' ? undefined : x })
  }
  if (DataType.isBool(type)) {
    const bits = new Uint8Array((n + 7) >> 3)
    for (let i = 0; i < n; i++) {
      const v = values[i]
      if (isNull(v, i)) continue
      const b = toBool(v)
      if (b === undefined) throw bad(field, label(i), v)
      if (b) bits[i >> 3] |= 1 << (i & 7)
    }
    return makeData({ type, length: n, nullCount: nulls, nullBitmap: nulls ? validity : null, data: bits })
  }
  if (DataType.isUtf8(type)) return utf8Data(field, values, label)
  // Decimals, times, durations and fixed-size binary follow the server's JSON rules (src/arrow/json-values.ts).
  if (DataType.isTime(type)) {
    const { unit, bitWidth } = type
    return fixed(bitWidth === 64 ? new BigInt64Array(n) : new Int32Array(n), v => { const x = toTime(v, unit); return x === undefined || bitWidth === 64 ? x : Number(x) })
  }
  if (DataType.isDuration(type)) return fixed(new BigInt64Array(n), toDuration)
  if (DataType.isDecimal(type)) {
    const { precision, scale, bitWidth } = type
    const stride = bitWidth / 32
    const words = new Uint32Array(n * stride)
    for (let i = 0; i < n; i++) {
      if (isNull(values[i], i)) continue
      let x = toDecimal(values[i], precision, scale)
      if (x === undefined) throw bad(field, label(i), values[i])
      for (let w = 0; w < stride; w++, x >>= 32n) words[i * stride + w] = Number(BigInt.asUintN(32, x))
    }
    return makeData({ type, length: n, nullCount: nulls, nullBitmap: nulls ? validity : null, data: words })
  }
  if (DataType.isFixedSizeBinary(type)) {
    const bytes = new Uint8Array(n * type.byteWidth)
    for (let i = 0; i < n; i++) {
      if (isNull(values[i], i)) continue
      const b = toFixedBytes(values[i], type.byteWidth)
      if (b === undefined) throw bad(field, label(i), values[i])
      bytes.set(b, i * type.byteWidth)
    }
    return makeData({ type, length: n, nullCount: nulls, nullBitmap: nulls ? validity : null, data: bytes })
  }
  // Large strings, dates and nested types: the generic builder (JSON objects for structs, arrays for lists).
  const builder = makeBuilder({ type, nullValues: [null, undefined] })
  for (let i = 0; i < n; i++) {
    let v = values[i]
    if (isText(type) && v !== null && v !== undefined && typeof v !== 'string') v = JSON.stringify(v)
    else if (!isText(type) && v === '') v = null
    if ((v === null || v === undefined) && !field.nullable) throw noValue(field, label(i))
    builder.append(DataType.isDate(type) && typeof v === 'string' ? new Date(v) : v)
  }
  return builder.finish().flush()
}

/**
 * Utf8 without the builder: one native UTF-8 encode of all values joined, offsets from string
 * lengths when the text is ASCII (the common case), else from per-value byte lengths.
 */
function utf8Data (field: Field, values: unknown[], label: RowLabel): Data {
  const n = values.length
  const strings: string[] = new Array(n)
  const validity = new Uint8Array((n + 7) >> 3)
  let nulls = 0
  for (let i = 0; i < n; i++) {
    const v = values[i]
    if (v === null || v === undefined) {
      if (!field.nullable) throw noValue(field, label(i))
      nulls++
      strings[i] = ''
    } else {
      strings[i] = typeof v === 'string' ? v : JSON.stringify(v)
      validity[i >> 3] |= 1 << (i & 7)
    }
  }
  const joined = strings.join('')
  const data = Buffer.from(joined, 'utf8')
  const ascii = data.length === joined.length
  const offsets = new Int32Array(n + 1)
  let at = 0
  for (let i = 0; i < n; i++) {
    at += ascii ? strings[i].length : Buffer.byteLength(strings[i], 'utf8')
    offsets[i + 1] = at
  }
  return makeData({ type: field.type, length: n, nullCount: nulls, nullBitmap: nulls ? validity : null, valueOffsets: offsets, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) } as never)
}

export function batchFromColumns (schema: Schema, columns: unknown[][], length: number, label: RowLabel): RecordBatch {
  const children = schema.fields.map((f, j) => columnData(f, columns[j], label))
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }))
}

function isText (type: DataType): boolean {
  return DataType.isUtf8(type) || DataType.isLargeUtf8(type)
}

function toBool (v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v
  if (typeof v === 'number') return v !== 0
  const s = String(v).toLowerCase()
  if (s === 'true' || s === '1' || s === 't' || s === 'yes') return true
  if (s === 'false' || s === '0' || s === 'f' || s === 'no') return false
  return undefined
}

const FRACTION = /\.(\d{4,9})/

/** Epoch milliseconds, with the sub-millisecond digits Date.parse drops kept as the fraction. */
function toEpochMs (v: unknown): number | undefined {
  if (typeof v === 'number') return v
  if (v instanceof Date) return v.getTime()
  const s = String(v)
  const last = s.charCodeAt(s.length - 1)
  // Timestamps without an offset are taken as UTC, like DuckDB and pyarrow do.
  const zoned = last === 90 || last === 122 || /[+-]\d\d:?\d\d$/.test(s) || !/\d[T ]\d/.test(s)
  const ms = Date.parse(zoned ? s : s + 'Z')
  if (Number.isNaN(ms)) return undefined
  const frac = FRACTION.exec(s)
  return frac ? ms + Number('0.' + frac[1].slice(3)) * (ms < 0 ? -1 : 1) : ms
}

function toInt64 (v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : undefined
  const s = String(v).trim()
  return /^[+-]?\d+$/.test(s) ? BigInt(s) : undefined
}

function bad (field: Field, at: string, v: unknown): Error {
  return new Error(`${at}: field "${field.name}": expected ${formatType(field.type)}, got ${describe(v)}`)
}

function noValue (field: Field, at: string): Error {
  return new Error(`${at}: field "${field.name}": no value, but the field is not nullable`)
}
