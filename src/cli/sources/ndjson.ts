import type { RecordBatch } from 'apache-arrow'
import { readLines } from './lines.ts'
import { RowBatcher } from './rows.ts'
import type { SourceOptions } from './types.ts'

/**
 * NDJSON (one JSON object per line; blank lines skipped) → Arrow batches of `batchRows` rows.
 * Errors name the file line: `events.ndjson: line 120345: field "price": …`.
 */
export async function * readNdjson (path: string, opts: SourceOptions): AsyncGenerator<RecordBatch> {
  const batcher = new RowBatcher(opts.schema ?? null, opts.batchRows, line => `${path}: line ${line}`)
  let lineNo = 0
  for await (const line of readLines(path, opts.position)) {
    lineNo++
    if (line.trim() === '') continue
    let row: unknown
    try {
      row = JSON.parse(line)
    } catch (err) {
      throw new Error(`${path}: line ${lineNo}: invalid JSON: ${(err as Error).message}`)
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row)) throw new Error(`${path}: line ${lineNo}: expected a JSON object`)
    const batch = batcher.push(row as Record<string, unknown>, lineNo)
    if (batch) yield batch
  }
  const last = batcher.finish()
  if (last) yield last
}
