import { deserializeTCompactProtocol } from 'hyparquet/src/thrift.js'
import { serializeTCompactProtocol } from 'hyparquet-writer/src/thrift.js'
// The module itself, not the package's index (two dozen modules of the writer the start would load).
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js'

/**
 * A Thrift struct as field id → value (`field_9`), decoded whole: for tests that look into or
 * edit Parquet footers (test/parquet/assemble.test.ts). The assembler itself rewrites footers
 * at the byte level (src/parquet/thrift-walk.ts). Reading is hyparquet's, writing
 * hyparquet-writer's; both are pinned exactly because these modules are their internals.
 *
 * Values: i64 → bigint, i32 → number, binary → Uint8Array (a view of the input), list → array,
 * struct → ThriftObject. i16 reads as a number and would be written back as i32.
 */
export type ThriftObject = Record<`field_${number}`, any>

export function readThrift (bytes: Uint8Array): ThriftObject {
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }
  return deserializeTCompactProtocol(reader) as ThriftObject
}

export function writeThrift (value: ThriftObject, writer = new ByteWriter()): Uint8Array {
  serializeTCompactProtocol(writer, value)
  return writer.getBytes()
}

export { ByteWriter }
