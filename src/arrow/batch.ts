import { type Data, makeData, RecordBatch, type Schema, Struct } from 'apache-arrow'

const structs = new WeakMap<Schema, Struct>()

/**
 * A RecordBatch of `children` whose `schema` is exactly the given Schema object. apache-arrow's
 * constructor always derives a fresh copy (`schema.assign`), which would defeat identity caches
 * (matchSchema, the stream writer) and per-batch allocation of 10,000-field schemas adds up.
 */
export function batchOf (schema: Schema, children: Data[], length: number): RecordBatch {
  let struct = structs.get(schema)
  if (struct === undefined) { struct = new Struct(schema.fields); structs.set(schema, struct) }
  const batch = new RecordBatch(schema, makeData({ type: struct, length, nullCount: 0, children }))
  ;(batch as { schema: Schema }).schema = schema
  return batch
}
