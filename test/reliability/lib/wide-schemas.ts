import { Bool, type Data, type DataType, Field, Int64, List, makeData, Schema, Struct } from 'apache-arrow'
import { batchOf } from '../../../src/arrow/batch.ts'
import { ipcOf } from './hostile-arrow.ts'

/*
 * Schemas that are large in total rather than at the top level (the schema bounds count every nested field): one struct of
 * thousands of booleans, many structs of many booleans, a mix of struct and list levels.
 * MAX_SCHEMA_FIELDS counts every one of their fields.
 */

const TRUE = () => makeData({ type: new Bool(), length: 1, nullCount: 0, data: Uint8Array.of(1) })

/** `top` struct columns s0…, each of `width` booleans c0…, one row (all true): top × (width + 1) fields. */
export function structsStream (top: number, width: number): Uint8Array {
  const kids = Array.from({ length: width }, (_, i) => new Field(`c${i}`, new Bool(), true))
  const type = new Struct(kids)
  const leaf = TRUE()
  const col = makeData({ type, length: 1, nullCount: 0, children: kids.map(() => leaf) })
  const schema = new Schema(Array.from({ length: top }, (_, i) => new Field(`s${i}`, type, true)))
  return ipcOf(schema, [batchOf(schema, schema.fields.map(() => col), 1)])
}

/** One column nested `depth` levels, alternating struct and list levels (`pattern` picks which first), leaf int64 7. */
export function mixedDeepStream (depth: number, structFirst = true): Uint8Array {
  let type: DataType = new Int64()
  let data: Data = makeData({ type: type as Int64, length: 1, nullCount: 0, data: new BigInt64Array([7n]) })
  for (let i = 1; i < depth; i++) {
    if ((i % 2 === 0) === structFirst) {
      type = new Struct([new Field('a', type, true), new Field('b', new Bool(), true)])
      data = makeData({ type: type as Struct, length: 1, nullCount: 0, children: [data, TRUE()] })
    } else {
      type = new List(new Field('item', type, true))
      data = makeData({ type: type as List, length: 1, nullCount: 0, valueOffsets: new Int32Array([0, 1]), child: data })
    }
  }
  const schema = new Schema([new Field('deep', type, true)])
  return ipcOf(schema, [batchOf(schema, [data], 1)])
}
