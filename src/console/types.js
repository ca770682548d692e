// Topic type names (pyarrow spelling, as the gateway stores them) ↔ apache-arrow types, for the
// flat column types a file in the browser can fill. Nested types go through the CLI or the API.
const A = globalThis.Arrow

const SIMPLE = {
  bool: () => new A.Bool(),
  boolean: () => new A.Bool(),
  int8: () => new A.Int8(),
  int16: () => new A.Int16(),
  int32: () => new A.Int32(),
  int64: () => new A.Int64(),
  uint8: () => new A.Uint8(),
  uint16: () => new A.Uint16(),
  uint32: () => new A.Uint32(),
  uint64: () => new A.Uint64(),
  float: () => new A.Float32(),
  float32: () => new A.Float32(),
  double: () => new A.Float64(),
  float64: () => new A.Float64(),
  string: () => new A.Utf8(),
  utf8: () => new A.Utf8(),
  binary: () => new A.Binary(),
  date32: () => new A.DateDay(),
  'date32[day]': () => new A.DateDay()
}
const UNITS = ['s', 'ms', 'us', 'ns']
const TIMESTAMP = /^timestamp\[(s|ms|us|ns)(?:,\s*tz=([^\s,\]]+))?\]$/

/** The Arrow type of a topic field, or null when the console cannot build such a column. */
export function parseType (spec) {
  const s = String(spec).trim()
  const make = SIMPLE[s.toLowerCase()]
  if (make) return make()
  const m = TIMESTAMP.exec(s)
  return m ? new A.Timestamp(UNITS.indexOf(m[1]), m[2] ?? null) : null
}

/** pyarrow's spelling of an Arrow type, as the gateway prints it in errors. */
export function formatType (t) {
  switch (t.typeId) {
    case A.Type.Bool: return 'bool'
    case A.Type.Int: return `${t.isSigned ? '' : 'u'}int${t.bitWidth}`
    case A.Type.Float: return ['halffloat', 'float', 'double'][t.precision]
    case A.Type.Utf8: return 'string'
    case A.Type.LargeUtf8: return 'large_string'
    case A.Type.Binary: return 'binary'
    case A.Type.Date: return t.unit === 0 ? 'date32[day]' : 'date64[ms]'
    case A.Type.Timestamp: return `timestamp[${UNITS[t.unit]}${t.timezone ? `, tz=${t.timezone}` : ''}]`
    case A.Type.Dictionary: return `dictionary<values=${formatType(t.dictionary)}>`
    default: return String(t).toLowerCase()
  }
}

/** Same type, so the file's column buffers can be sent as they are. */
export function sameType (topic, file) {
  return formatType(topic) === formatType(file)
}
