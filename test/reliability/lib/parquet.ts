import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { tableFromIPC, type Table } from 'apache-arrow'
import { readParquet } from 'parquet-wasm'

/** Decodes a whole Parquet object (throws on anything that is not a complete, valid file). */
export function readParquetTable (bytes: Uint8Array): Table {
  const wasm = readParquet(bytes)
  return tableFromIPC(wasm.intoIPCStream())
}

/** Every `.parquet` file under `dir`, recursively (the local storage layout). */
export function parquetFiles (dir: string): string[] {
  const out: string[] = []
  let entries
  try { entries = readdirSync(dir, { withFileTypes: true }) } catch { return out }
  for (const e of entries) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...parquetFiles(p))
    else if (e.name.endsWith('.parquet')) out.push(p)
  }
  return out.sort()
}

/** Total rows of every Parquet file under `dir`. */
export function countLocalRows (dir: string): { rows: number, files: number } {
  let rows = 0
  const files = parquetFiles(dir)
  for (const f of files) rows += readParquetTable(readFileSync(f)).numRows
  return { rows, files: files.length }
}
