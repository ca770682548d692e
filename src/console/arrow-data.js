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
  const value = new Array(count)
  const ok = new Array(count)
  const nowUs = BigInt(Date.now()) * 1000n
  for (let i = 0; i < count; i++) {
    const id = firstId + i
    ids[i] = BigInt(id)
    ts[i] = nowUs
    sensor[i] = SENSORS[id % SENSORS.length]
    value[i] = Math.round((20 + 5 * Math.sin(id / 50) + Math.random()) * 1000) / 1000
    ok[i] = id % 17 !== 0
  }
  return A.tableToIPC(new A.Table({
    id: column(new A.Int64(), ids),
    ts: column(new A.TimestampMicrosecond('UTC'), ts),
    sensor: column(new A.Utf8(), sensor),
    value: column(new A.Float64(), value),
    ok: column(new A.Bool(), ok)
  }), 'stream')
}

/**
 * A vector built straight from buffers. apache-arrow's builders compile their null check with
 * `new Function`, which the console's CSP (no 'unsafe-eval') rightly forbids.
 */
export function column (type, values) {
  const n = values.length
  const validity = new Uint8Array((n + 7) >> 3)
  let nulls = 0
  values.forEach((v, i) => { if (v === null || v === undefined) nulls++; else validity[i >> 3] |= 1 << (i & 7) })
  const base = { type, length: n, nullCount: nulls, nullBitmap: nulls ? validity : undefined }
  if (type instanceof A.Utf8) {
    const enc = new TextEncoder()
    const parts = values.map((v) => enc.encode(v ?? ''))
    const offsets = new Int32Array(n + 1)
    parts.forEach((p, i) => { offsets[i + 1] = offsets[i] + p.length })
    const data = new Uint8Array(offsets[n])
    parts.forEach((p, i) => data.set(p, offsets[i]))
    return A.makeVector(A.makeData({ ...base, valueOffsets: offsets, data }))
  }
  if (type instanceof A.Bool) {
    const bits = new Uint8Array((n + 7) >> 3)
    values.forEach((v, i) => { if (v) bits[i >> 3] |= 1 << (i & 7) })
    return A.makeVector(A.makeData({ ...base, data: bits }))
  }
  const data = type instanceof A.Float64 ? Float64Array.from(values, (v) => v ?? 0) : BigInt64Array.from(values, (v) => v ?? 0n)
  return A.makeVector(A.makeData({ ...base, data }))
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
    columns[name] = column(type, data)
  }
  return new A.Table(columns)
}
