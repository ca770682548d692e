import { Field, Schema, type RecordBatch } from 'apache-arrow'
import { batchFromColumns } from './columns.ts'
import { inferType } from './infer.ts'

/**
 * Collects JSON objects and cuts them into batches. Without a target schema the first batch
 * decides it (keys in order of first appearance); later keys not in the schema are an error
 * rather than silently dropped data.
 */
export class RowBatcher {
  private rows: Record<string, unknown>[] = []
  constructor (private schema: Schema | null, private readonly batchRows: number) {}

  push (row: Record<string, unknown>): RecordBatch | null {
    this.rows.push(row)
    return this.rows.length >= this.batchRows ? this.cut() : null
  }

  finish (): RecordBatch | null {
    return this.rows.length ? this.cut() : null
  }

  private cut (): RecordBatch {
    const rows = this.rows
    this.rows = []
    if (!this.schema) {
      const names = new Set<string>()
      for (const r of rows) for (const k in r) names.add(k)
      this.schema = new Schema([...names].map(name => new Field(name, inferType(rows.map(r => r[name])), true)))
    }
    const known = new Set(this.schema.fields.map(f => f.name))
    for (const r of rows) {
      for (const k in r) if (!known.has(k)) throw new Error(`field "${k}" is not in the schema (${[...known].join(', ')})`)
    }
    const columns = this.schema.fields.map(f => rows.map(r => r[f.name]))
    return batchFromColumns(this.schema, columns, rows.length)
  }
}
