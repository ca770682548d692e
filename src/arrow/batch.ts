import { type Data, makeData, RecordBatch, type Schema, Struct } from 'apache-arrow'
import './arrow-patches.ts'

const structs = new WeakMap<Schema, Struct>()

/**
 * A RecordBatch of `children` whose `schema` is exactly the given Schema object. apache-arrow's
 * constructor always derives a fresh schema copy (`schema.assign`, cloning every field), which
 * defeats identity caches (matchSchema, the stream writer) and costs ~10 ms per 1,000 columns on
 * every batch. When every child already has the batch's length (all the constructor would check),
 * we set the same instance fields it would (test/internals.test.ts checks they still are).
 */
export function batchOf (schema: Schema, children: Data[], length: number): RecordBatch {
  let struct = structs.get(schema)
  if (struct === undefined) { struct = new Struct(schema.fields); structs.set(schema, struct) }
  const data = makeData({ type: struct, length, nullCount: 0, children })
  if (children.length !== schema.fields.length || children.some(c => c.length !== length)) {
    const batch = new RecordBatch(schema, data)
    ;(batch as { schema: Schema }).schema = schema
    return batch
  }
  return Object.assign(Object.create(RecordBatch.prototype) as RecordBatch, { schema, data, _metadata: new Map() })
}
