import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm'
import type { RecordBatch } from 'apache-arrow'
import parquetjs from '@dsnp/parquetjs'

export interface EncodeRate {
  mibPerS: number
  /** MiB per CPU-second of this process: what the encode costs, however busy the machine is. */
  mibPerCpuS: number
  rowsPerS: number
  iterations: number
  seconds: number
  outBytes: number
}

/**
 * The ceiling: parquet-wasm ZSTD (its default writer properties plus ZSTD, as a user would call
 * it) on this thread, IPC bytes in → Parquet bytes out, including the IPC → wasm table import the
 * encoder has to do too. Repeats until `minSeconds` have passed.
 */
export function wasmEncodeRate (ipc: Uint8Array, rows: number, minSeconds: number): EncodeRate {
  const props = () => new WriterPropertiesBuilder().setCompression(Compression.ZSTD).build()
  writeParquet(WasmTable.fromIPCStream(ipc), props()) // warm the wasm code
  let iterations = 0
  let outBytes = 0
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  while (iterations < 3 || performance.now() - t0 < minSeconds * 1000) {
    const out = writeParquet(WasmTable.fromIPCStream(ipc), props())
    outBytes = out.byteLength
    iterations++
  }
  const seconds = (performance.now() - t0) / 1000
  const c = process.cpuUsage(c0)
  const mib = (ipc.byteLength * iterations) / (1024 * 1024)
  return { mibPerS: mib / seconds, mibPerCpuS: mib / ((c.user + c.system) / 1e6), rowsPerS: rows * iterations / seconds, iterations, seconds, outBytes }
}

/**
 * The naive baseline: the same rows through @dsnp/parquetjs (row objects → appendRow), SNAPPY
 * (the fastest codec it ships; it has no ZSTD). Turning Arrow into row objects is done before the
 * clock starts, so the baseline is not charged for it. MiB/s is expressed in the IPC bytes those
 * rows occupy, the unit every other figure uses.
 */
export async function parquetjsRate (batch: RecordBatch, ipcBytesPerRow: number, rows: number): Promise<EncodeRate> {
  const objects: Array<Record<string, unknown>> = []
  const cols = batch.schema.fields.map((f) => batch.getChild(f.name)!)
  for (let i = 0; i < rows; i++) {
    objects.push({
      id: cols[0].get(i) as bigint,
      name: cols[1].get(i) as string,
      value: cols[2].get(i) as number,
      ts: new Date(Number(cols[3].get(i) as number)),
      ok: cols[4].get(i) as boolean
    })
  }
  const schema = new parquetjs.ParquetSchema({
    id: { type: 'INT64', compression: 'SNAPPY' },
    name: { type: 'UTF8', compression: 'SNAPPY' },
    value: { type: 'DOUBLE', compression: 'SNAPPY' },
    ts: { type: 'TIMESTAMP_MICROS', compression: 'SNAPPY' },
    ok: { type: 'BOOLEAN', compression: 'SNAPPY' }
  })
  const dir = mkdtempSync(join(tmpdir(), 'quiver-pqjs-'))
  try {
    const file = join(dir, 'out.parquet')
    const t0 = performance.now()
    const writer = await parquetjs.ParquetWriter.openFile(schema, file, { rowGroupSize: 64 * 1024 })
    for (const row of objects) await writer.appendRow(row)
    await writer.close()
    const seconds = (performance.now() - t0) / 1000
    return { mibPerS: rows * ipcBytesPerRow / (1024 * 1024) / seconds, mibPerCpuS: NaN, rowsPerS: rows / seconds, iterations: 1, seconds, outBytes: statSync(file).size }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
