import { Field, Schema, type RecordBatch } from 'apache-arrow'
import { batchFromColumns } from './columns.ts'
import { inferType } from './infer.ts'

/**
 * Collects JSON objects and cuts them into batches. Without a target schema the first batch
 * decides it (keys in order of first appearance); later keys not in the schema are an error
 * rather than silently dropped data. Each row comes with the file line it starts on, and `label`
 * turns that line and the row's index in the file (from 0) into the place errors name.
 */
export class RowBatcher {
  private rows: Record<string, unknown>[] = []
  private lines: number[] = []
  /** Rows of the file before the current batch. */
  private offset = 0
  constructor (
    private schema: Schema | null,
    private readonly batchRows: number,
    private readonly label: (line: number, row: number) => string
  ) {}

  push (row: Record<string, unknown>, line: number): RecordBatch | null {
    this.rows.push(row)
    this.lines.push(line)
    return this.rows.length >= this.batchRows ? this.cut() : null
  }

  finish (): RecordBatch | null {
    return this.rows.length ? this.cut() : null
  }

  private cut (): RecordBatch {
    const { rows, lines, offset } = this
    this.rows = []
    this.lines = []
    this.offset += rows.length
    const at = (i: number) => this.label(lines[i], offset + i)
    if (!this.schema) {
      const names = new Set<string>()
      for (const r of rows) for (const k in r) names.add(k)
      this.schema = new Schema([...names].map(name => new Field(name, inferType(rows.map(r => r[name])), true)))
    }
    const known = new Set(this.schema.fields.map(f => f.name))
    rows.forEach((r, i) => {
      for (const k in r) if (!known.has(k)) throw new Error(`${at(i)}: field "${k}" is not in the schema (${[...known].join(', ')})`)
    })
    const columns = this.schema.fields.map(f => rows.map(r => r[f.name]))
    return batchFromColumns(this.schema, columns, rows.length, at)
  }
}
