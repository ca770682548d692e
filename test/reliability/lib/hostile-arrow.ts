import { randomBytes } from 'node:crypto'
import {
  type Data, type DataType, Dictionary, Field, Int32, Int64, List, makeData, type RecordBatch,
  RecordBatchStreamWriter, Schema, Struct, Utf8, type Vector, vectorFromArray
} from 'apache-arrow'
import { batchOf } from '../../../src/arrow/batch.ts'
import { makeBatch, TEST_ARROW_SCHEMA } from '../../helpers/arrow.ts'

/*
 * Arrow IPC streams of hostile but well-formed shapes, written by apache-arrow's own stream writer:
 * deep nesting, thousands of columns, zero-row batches, dictionary deltas and replacements, huge
 * values, a second schema in one stream.
 */

/** One IPC stream (schema, dictionaries, batches, end-of-stream marker) as apache-arrow writes it. */
export function ipcOf (schema: Schema, batches: RecordBatch[]): Uint8Array {
  const writer = new RecordBatchStreamWriter()
  writer.reset(undefined, schema)
  for (const b of batches) writer.write(b)
  writer.finish()
  return writer.toUint8Array(true)
}

/** The same bytes without the 8-byte end-of-stream marker (to append more messages). */
export function withoutEos (ipc: Uint8Array): Uint8Array {
  return ipc.subarray(0, ipc.byteLength - 8)
}

/**
 * One column `deep` nested `depth` levels (the int64 leaf counts as one): struct<a: struct<a: …>>
 * or list<item: list<item: …>>, one row holding 7 at the bottom.
 */
export function nestedStream (depth: number, kind: 'struct' | 'list'): Uint8Array {
  let type: DataType = new Int64()
  let data: Data = makeData({ type: type as Int64, length: 1, nullCount: 0, data: new BigInt64Array([7n]) })
  for (let i = 1; i < depth; i++) {
    if (kind === 'struct') {
      type = new Struct([new Field('a', type, true)])
      data = makeData({ type: type as Struct, length: 1, nullCount: 0, children: [data] })
    } else {
      type = new List(new Field('item', type, true))
      data = makeData({ type: type as List, length: 1, nullCount: 0, valueOffsets: new Int32Array([0, 1]), child: data })
    }
  }
  const schema = new Schema([new Field('deep', type, true)])
  return ipcOf(schema, [batchOf(schema, [data], 1)])
}

/** `deep.a.a…` / `deep.item.item…`: the path the gateway names when it refuses depth 33 and more. */
export function deepPath (kind: 'struct' | 'list'): string {
  return 'deep' + `.${kind === 'struct' ? 'a' : 'item'}`.repeat(32)
}

/** `n` int32 columns c0 … c{n-1}, two rows: column i holds i and i + 1. */
export function wideStream (n: number): Uint8Array {
  const fields = Array.from({ length: n }, (_, i) => new Field(`c${i}`, new Int32(), true))
  const schema = new Schema(fields)
  const children = fields.map((f, i) => makeData({ type: f.type, length: 2, nullCount: 0, data: Int32Array.of(i, i + 1) }))
  return ipcOf(schema, [batchOf(schema, children, 2)])
}

/** int32 columns with exactly these names (duplicates allowed), one row. */
export function namedStream (names: string[]): Uint8Array {
  const schema = new Schema(names.map((n) => new Field(n, new Int32(), true)))
  const children = schema.fields.map((f) => makeData({ type: f.type, length: 1, nullCount: 0, data: Int32Array.of(1) }))
  return ipcOf(schema, [batchOf(schema, children, 1)])
}

/** The test topic's schema with `name` dictionary-encoded (utf8 values, int32 indices). */
export const DICT_TYPE = new Dictionary(new Utf8(), new Int32(), 0)
export const DICT_SCHEMA = new Schema(TEST_ARROW_SCHEMA.fields.map((f) => f.name === 'name' ? new Field('name', DICT_TYPE, true) : f))

/** Test rows start … start+n-1 whose `name` is `indices` into `dictionary`. */
export function dictBatch (start: number, indices: number[], dictionary: Vector<Utf8>): RecordBatch {
  const n = indices.length
  const children = makeBatch(n, start).data.children.slice()
  children[1] = makeData({ type: DICT_TYPE, length: n, nullCount: 0, data: Int32Array.from(indices), dictionary })
  return batchOf(DICT_SCHEMA, children, n)
}

/** `n` random bytes of printable ASCII (valid UTF-8 that does not compress to nothing). */
export function hugeText (n: number): Uint8Array {
  const out = randomBytes(n)
  for (let i = 0; i < n; i++) out[i] = 0x21 + (out[i] % 94)
  return out
}

export function strings (values: string[]): Vector<Utf8> {
  return vectorFromArray(values, new Utf8())
}

/** Test row `start` (one row) whose `name` is the UTF-8 text `bytes`. */
export function oneRowWithName (start: number, bytes: Uint8Array): Uint8Array {
  const children = makeBatch(1, start).data.children.slice()
  children[1] = makeData({ type: new Utf8(), length: 1, nullCount: 0, valueOffsets: Int32Array.of(0, bytes.byteLength), data: bytes })
  return ipcOf(TEST_ARROW_SCHEMA, [batchOf(TEST_ARROW_SCHEMA, children, 1)])
}
