import type { RecordBatch, Schema } from 'apache-arrow'
import { batchFromColumns } from './columns.ts'
import { parseCsvRecord } from './csv-parse.ts'
import { inferSchema } from './infer.ts'
import { readLines } from './lines.ts'
import type { SourceOptions } from './types.ts'

/**
 * CSV with a header row → Arrow batches of `batchRows` rows. Columns map to the target schema by
 * name (order may differ; schema fields missing from the file are null); without a schema the
 * types are inferred from the first batch. Memory holds one batch of strings at a time. Errors
 * name the file line where the record starts: `big.csv: line 120345: field "price": …`.
 */
export async function * readCsv (path: string, opts: SourceOptions): AsyncGenerator<RecordBatch> {
  const delimiter = opts.delimiter ?? ','
  let header: string[] | null = null
  let schema: Schema | null = opts.schema ?? null
  let columns: string[][] = []
  let rows = 0
  let pending = ''
  let lineNo = 0
  /** File line where the record being read starts (a quoted field may span lines). */
  let recordLine = 0
  let lines: number[] = []

  const flush = (): RecordBatch => {
    const names = header as string[]
    if (!schema) schema = inferSchema(names, columns)
    const index = new Map(names.map((n, j) => [n, j]))
    const ordered = schema.fields.map(f => {
      const j = index.get(f.name)
      return j === undefined ? new Array(rows).fill(null) : columns[j]
    })
    const at = lines
    const batch = batchFromColumns(schema, ordered, rows, i => `${path}: line ${at[i]}`)
    columns = names.map(() => [])
    lines = []
    rows = 0
    return batch
  }

  for await (const line of readLines(path, opts.position)) {
    lineNo++
    if (!pending) recordLine = lineNo
    const text = pending ? pending + '\n' + line : line
    if (!pending && line === '') continue
    const fields = parseCsvRecord(text, delimiter)
    if (!fields) { pending = text; continue }
    pending = ''
    if (!header) {
      header = fields.map(h => h.trim())
      if (header[0].charCodeAt(0) === 0xfeff) header[0] = header[0].slice(1)
      const names = new Set(header)
      const unknown = schema?.fields.length ? header.filter(h => !schema!.fields.some(f => f.name === h)) : []
      if (names.size !== header.length) throw new Error(`${path}: duplicate column names in the header`)
      if (unknown.length) throw new Error(`${path}: columns not in the topic's schema: ${unknown.join(', ')}`)
      columns = header.map(() => [])
      continue
    }
    if (fields.length !== header.length) {
      throw new Error(`${path}: line ${recordLine}: expected ${header.length} fields, found ${fields.length}`)
    }
    for (let j = 0; j < fields.length; j++) columns[j].push(fields[j])
    lines.push(recordLine)
    if (++rows >= opts.batchRows) yield flush()
  }
  if (pending) throw new Error(`${path}: line ${recordLine}: unterminated quoted field at the end of the file`)
  if (rows > 0) yield flush()
}
