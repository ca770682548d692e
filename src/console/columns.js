// Arrow columns and tables built straight from buffers. apache-arrow's builders compile their
// null check with `new Function`, which the console's CSP (no 'unsafe-eval') rightly forbids.
import { formatType } from './types.js'
import { converterFor, describe } from './value-converters.js'

const A = globalThis.Arrow

/** A file that cannot become the topic's rows; the message names the file, row and field. */
export class ConvertError extends Error {}

/** Data of `type` from slot values already converted (null = null). */
export function dataOf (type, values) {
  const n = values.length
  const validity = new Uint8Array((n + 7) >> 3)
  let nulls = 0
  for (let i = 0; i < n; i++) {
    if (values[i] === null || values[i] === undefined) nulls++
    else validity[i >> 3] |= 1 << (i & 7)
  }
  const base = { type, length: n, nullCount: nulls, nullBitmap: nulls ? validity : undefined }
  if (type.typeId === A.Type.Utf8 || type.typeId === A.Type.Binary) {
    const enc = new TextEncoder()
    const parts = values.map((v) => (v == null ? null : typeof v === 'string' ? enc.encode(v) : v))
    const offsets = new Int32Array(n + 1)
    parts.forEach((p, i) => { offsets[i + 1] = offsets[i] + (p?.length ?? 0) })
    const data = new Uint8Array(offsets[n])
    parts.forEach((p, i) => { if (p) data.set(p, offsets[i]) })
    return A.makeData({ ...base, valueOffsets: offsets, data })
  }
  if (type.typeId === A.Type.Bool) {
    const bits = new Uint8Array((n + 7) >> 3)
    values.forEach((v, i) => { if (v) bits[i >> 3] |= 1 << (i & 7) })
    return A.makeData({ ...base, data: bits })
  }
  const data = new type.ArrayType(n)
  const zero = data instanceof BigInt64Array || data instanceof BigUint64Array ? 0n : 0
  for (let i = 0; i < n; i++) data[i] = values[i] ?? zero
  return A.makeData({ ...base, data })
}

/** A vector of `type` from slot values (used by the generator). */
export function column (type, values) {
  return A.makeVector(dataOf(type, values))
}

/**
 * The column of `field` from the raw values of a file (strings for CSV, JSON values otherwise).
 * `at(i)` names row i for messages, e.g. `orders.csv line 7`.
 */
export function convertColumn (field, raw, { text, at }) {
  const conv = converterFor(field.type, text)
  if (!conv) throw new ConvertError(`field "${field.name}": the console cannot build ${formatType(field.type)} columns; send this file with the quiver CLI`)
  const values = new Array(raw.length)
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i]
    if (v === null || v === undefined) {
      if (!field.nullable) throw new ConvertError(`${at(i)}: field "${field.name}": ${v === undefined ? 'missing' : 'empty'}, but the topic says not null`)
      values[i] = null
      continue
    }
    const x = conv(v)
    if (x === undefined) throw new ConvertError(`${at(i)}: field "${field.name}": expected ${formatType(field.type)}, got ${describe(v)}`)
    values[i] = x
  }
  return dataOf(field.type, values)
}

/** A table of one record batch whose schema is exactly `fields` (names, types, nullability). */
export function tableOf (fields, children, numRows) {
  const schema = new A.Schema(fields)
  const struct = A.makeData({ type: new A.Struct(fields), length: numRows, nullCount: 0, children })
  return new A.Table([new A.RecordBatch(schema, struct)])
}
