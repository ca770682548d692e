// Builds Arrow IPC streams in the page with apache-arrow's browser bundle (window.Arrow).
import { column } from './columns.js'

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

/** Slices a table into IPC streams of at most `rowsPer` rows each. */
export function * ipcSlices (table, rowsPer) {
  for (let at = 0; at < table.numRows; at += rowsPer) {
    const slice = table.slice(at, Math.min(at + rowsPer, table.numRows))
    yield { ipc: A.tableToIPC(slice, 'stream'), rows: slice.numRows }
  }
}
