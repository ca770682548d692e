import type { Data, RecordBatch, Schema } from 'apache-arrow'
import { batchOf } from '../arrow/batch.ts'
import { nullData } from '../arrow/convert.ts'
import { convertData, convertible } from '../arrow/convert.ts'
import { formatType } from '../schema/types.ts'

/*
 * Reads across schema versions. Objects written under an older version lack the
 * fields added since and may hold a narrower type of a widened field: each decoded batch is put
 * in the topic's current stored schema, nulls where its version had no such field, widened
 * values where the type grew. One answer then carries one schema, whatever mix of versions it
 * reads. Batches of the current version pass through untouched.
 */

function sameShape (batch: RecordBatch, schema: Schema): boolean {
  const a = batch.schema.fields
  const b = schema.fields
  return a.length === b.length && a.every((f, i) => f.name === b[i].name && (f.type === b[i].type || formatType(f.type) === formatType(b[i].type)))
}

/** `batch` in `schema`: columns by name, nulls for the missing ones, widened where the type grew. */
export function conformBatch (batch: RecordBatch, schema: Schema): RecordBatch {
  if (sameShape(batch, schema)) return batch
  const at = new Map(batch.schema.fields.map((f, i) => [f.name, i]))
  const children: Data[] = schema.fields.map((f) => {
    const i = at.get(f.name)
    if (i === undefined) return nullData(f.type, batch.numRows)
    const d = batch.data.children[i]
    if (d.type === f.type || formatType(d.type) === formatType(f.type) || !convertible(f.type, d.type)) return d
    return convertData(d, f.type, f.name)
  })
  return batchOf(schema, children, batch.numRows)
}

export async function * conformTo (batches: AsyncIterable<RecordBatch>, schema: Schema): AsyncGenerator<RecordBatch> {
  for await (const b of batches) yield conformBatch(b, schema)
}
