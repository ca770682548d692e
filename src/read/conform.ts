import type { Data, RecordBatch, Schema } from 'apache-arrow'
import { batchOf } from '../arrow/batch.ts'
import { nullData } from '../arrow/convert.ts'
import { convertData, convertible } from '../arrow/convert.ts'
import { formatType } from '../schema/types.ts'
import { Slicer } from '../arrow/json-slices.ts'

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

/**
 * Rows per batch of a read's answer. A decoded row group can hold a million rows: each is handed
 * on in slices of at most this many, so converting, encoding or serialising one is a bounded step.
 */
export const SLICE_ROWS = 65_536

/**
 * `batches` in `schema`, cut in slices of at most SLICE_ROWS rows (from each batch's start, as the
 * Arrow answer cuts them), converted one slice at a time. `slicer` is the request's: between two
 * slices the event loop gets a turn once a stretch of synchronous work took SLICE_MS.
 */
export async function * conformTo (batches: AsyncIterable<RecordBatch>, schema: Schema, slicer = new Slicer()): AsyncGenerator<RecordBatch> {
  for await (const b of batches) {
    for (let at = 0; at < b.numRows; at += SLICE_ROWS) {
      yield conformBatch(at === 0 && b.numRows <= SLICE_ROWS ? b : b.slice(at, at + SLICE_ROWS), schema)
      await slicer.pause()
    }
  }
}
