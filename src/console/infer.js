// Column types for a file sent to a topic that does not exist yet (auto-created from its schema).
import { FLOAT_TEXT, FLOAT_WORDS, ISO } from './value-converters.js'

const A = globalThis.Arrow

const INT64 = /^[-+]?\d{1,18}$/ // 18 digits always fit int64; longer ones stay strings
const DAY = /^\d{4}-\d{2}-\d{2}$/
const isDateTime = (v) => typeof v === 'string' && ISO.exec(v)?.[4] !== undefined
const utcMicros = () => new A.Timestamp(A.TimeUnit.MICROSECOND, 'UTC')

/**
 * The narrowest of int64, double, bool, date32, timestamp[us, tz=UTC] and string that holds
 * every value of a column, and the raw values to convert (JSON objects and mixed kinds become
 * JSON text in a string column). `text`: CSV cells, all strings.
 */
export function inferColumn (raw, text) {
  const present = raw.filter((v) => v !== null && v !== undefined)
  const all = (test) => present.length > 0 && present.every(test)
  if (text) {
    if (all((v) => INT64.test(v))) return { type: new A.Int64(), raw }
    if (all((v) => FLOAT_TEXT.test(v) || Object.hasOwn(FLOAT_WORDS, v))) return { type: new A.Float64(), raw }
    if (all((v) => /^(true|false)$/i.test(v))) return { type: new A.Bool(), raw }
    if (all((v) => DAY.test(v))) return { type: new A.DateDay(), raw }
    if (all(isDateTime)) return { type: utcMicros(), raw }
    return { type: new A.Utf8(), raw }
  }
  if (all((v) => typeof v === 'boolean')) return { type: new A.Bool(), raw }
  if (all((v) => Number.isSafeInteger(v))) return { type: new A.Int64(), raw }
  if (all((v) => typeof v === 'number')) return { type: new A.Float64(), raw }
  if (all((v) => typeof v === 'string' && DAY.test(v))) return { type: new A.DateDay(), raw }
  if (all(isDateTime)) return { type: utcMicros(), raw }
  return { type: new A.Utf8(), raw: raw.map((v) => (v == null || typeof v === 'string' ? v : JSON.stringify(v))) }
}
