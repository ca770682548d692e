// Builds Arrow IPC streams in the page with apache-arrow's browser bundle (window.Arrow).
const A = globalThis.Arrow

export const GENERATED_FIELDS = [
  { name: 'id', type: 'int64', nullable: true },
  { name: 'ts', type: 'timestamp[us, tz=UTC]', nullable: true },
  { name: 'sensor', type: 'string', nullable: true },
  { name: 'value', type: 'double', nullable: true },
  { name: 'ok', type: 'bool', nullable: true }
]

const SENSORS = ['boiler-a', 'boiler-b', 'chiller-1', 'pump-north', 'pump-south', 'valve-7']

/** `count` synthetic rows starting at id `firstId`, as one IPC stream (schema + one batch). */
export function generatedBatch (firstId, count) {
  const ids = new Array(count)
  const ts = new Array(count)
  const sensor = new Array(count)
  const value = new Float64Array(count)
  const ok = new Array(count)
  const now = Date.now()
  for (let i = 0; i < count; i++) {
    const id = firstId + i
    ids[i] = BigInt(id)
    ts[i] = now
    sensor[i] = SENSORS[id % SENSORS.length]
    value[i] = Math.round((20 + 5 * Math.sin(id / 50) + Math.random()) * 1000) / 1000
    ok[i] = id % 17 !== 0
  }
  const table = new A.Table({
    id: A.vectorFromArray(ids, new A.Int64()),
    ts: A.vectorFromArray(ts, new A.TimestampMicrosecond('UTC')),
    sensor: A.vectorFromArray(sensor, new A.Utf8()),
    value: A.vectorFromArray(Array.from(value), new A.Float64()),
    ok: A.vectorFromArray(ok, new A.Bool())
  })
  return A.tableToIPC(table, 'stream')
}

/** Reads a CSV, NDJSON/JSON or Arrow (stream or file) file into an Arrow table. */
export async function fileToTable (file) {
  const name = file.name.toLowerCase()
  if (/\.(arrow|arrows|feather)$/.test(name)) return A.tableFromIPC(new Uint8Array(await file.arrayBuffer()))
  const text = await file.text()
  if (name.endsWith('.csv')) return rowsToTable(parseCsv(text))
  if (name.endsWith('.json') && text.trimStart().startsWith('[')) return rowsToTable(JSON.parse(text))
  return rowsToTable(text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l)))
}

/** Slices a table into IPC streams of at most `rowsPer` rows each. */
export function * ipcSlices (table, rowsPer) {
  for (let at = 0; at < table.numRows; at += rowsPer) {
    const slice = table.slice(at, Math.min(at + rowsPer, table.numRows))
    yield { ipc: A.tableToIPC(slice, 'stream'), rows: slice.numRows }
  }
}

function parseCsv (text) {
  const records = []
  let row = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++ } else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') { row.push(field); field = '' } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++
      row.push(field); field = ''
      if (row.length > 1 || row[0] !== '') records.push(row)
      row = []
    } else field += c
  }
  if (field !== '' || row.length) { row.push(field); records.push(row) }
  const [header, ...body] = records
  return body.map((r) => Object.fromEntries(header.map((h, i) => [h, csvValue(r[i])])))
}

function csvValue (s) {
  if (s === undefined || s === '') return null
  if (/^-?\d+$/.test(s) && Number.isSafeInteger(Number(s))) return Number(s)
  if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return Number(s)
  if (s === 'true' || s === 'false') return s === 'true'
  return s
}

/** Column types inferred from the values: int64, double, bool, else string. */
function rowsToTable (rows) {
  if (rows.length === 0) throw new Error('the file holds no rows')
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))]
  const columns = {}
  for (const name of names) {
    const values = rows.map((r) => r[name] ?? null)
    const present = values.filter((v) => v !== null)
    let type = new A.Utf8()
    let data = values.map((v) => (v === null ? null : typeof v === 'object' ? JSON.stringify(v) : String(v)))
    if (present.length && present.every((v) => typeof v === 'boolean')) {
      type = new A.Bool(); data = values
    } else if (present.length && present.every((v) => Number.isInteger(v))) {
      type = new A.Int64(); data = values.map((v) => (v === null ? null : BigInt(v)))
    } else if (present.length && present.every((v) => typeof v === 'number')) {
      type = new A.Float64(); data = values
    }
    columns[name] = A.vectorFromArray(data, type)
  }
  return new A.Table(columns)
}
