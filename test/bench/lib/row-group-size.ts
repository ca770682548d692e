/**
 * `node --import tsx test/bench/lib/row-group-size.ts`: encode cost per CPU-second of one part
 * (one encoder task: wasm table import, writer set-up, pages, footer) by part size, with the
 * flush writer settings on the matrix data; interleaved rounds so machine drift hits every size.
 * The measurement behind ROW_GROUP_BYTES (src/pipeline/flush.ts).
 */
import { writeParquet, Table as WasmTable } from 'parquet-wasm'
import { userBatch, ipcOf } from './user-data.ts'
import { writerProperties } from '../../../src/parquet/writer-props.ts'
import { castTimestampsToMicros, withIngestedAt } from '../../../src/arrow/encode.ts'
const MiB = 1 << 20
const sizes = [0.25, 0.5, 1, 2, 4, 8, 16]
const total = 16 * MiB
const perRow = 33.7
const res = new Map<number, number[]>()
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }
for (let round = 0; round < 3; round++) {
  for (const s of sizes) {
    const rows = Math.round(s * MiB / perRow)
    const ipc = ipcOf([withIngestedAt(castTimestampsToMicros(userBatch(rows, round + 1)), Date.now())])
    const n = Math.round(total / ipc.byteLength)
    const c0 = cpu()
    for (let i = 0; i < n; i++) writeParquet(WasmTable.fromIPCStream(ipc), writerProperties('zstd', 1 << 20, ['event']))
    const c = cpu() - c0
    ;(res.get(s) ?? res.set(s, []).get(s)!).push(ipc.byteLength * n / MiB / c)
  }
}
for (const [s, v] of res) console.log(`${s} MiB parts (${Math.round(s * MiB / perRow)} rows): ${v.map((x) => x.toFixed(1)).join(' / ')} MiB per CPU-s`)
