import { UnsupportedArrowTypeError } from '../errors.ts'

/*
 * Arrow data a producer may send that the gateway cannot take, each with what to send instead
 * (a 4xx naming the type, never a 5xx: the producer can fix it, the server did not fail). Found in the schema message's flatbuffer
 * (src/arrow/fb-check.ts) before apache-arrow 21.2.0 reads it: that version throws a bare
 * `Unrecognized type` for run-end-encoded and list views, and decodes union, interval and null
 * columns that no topic type (nor a Parquet logical type) can hold.
 */

/** Flatbuffer `Type` union tags (format/Schema.fbs) → [pyarrow name, what to send instead]. */
const BY_TAG: Record<number, [string, string]> = {
  1: ['null', 'a nullable column of the intended type (e.g. string)'],
  11: ['interval', 'duration[unit], or a struct of its parts (months: int32, days: int32, nanoseconds: int64)'],
  14: ['union', 'a struct with one nullable field per member'],
  22: ['run_end_encoded', 'its values type, decoded (pyarrow: pc.run_end_decode)'],
  25: ['list_view', 'list<item: T> (pyarrow: .cast(pa.list_(T)))'],
  26: ['large_list_view', 'large_list<item: T> (pyarrow: .cast(pa.large_list(T)))']
}

/** Compression codecs of an IPC body (format/Message.fbs CompressionType). */
const CODECS = ['lz4_frame', 'zstd']

/** A schema field of type tag `tag` at `path`: throws 415 when the gateway cannot store it. */
export function checkFieldTypeTag (tag: number, path: () => string): void {
  const hit = BY_TAG[tag]
  if (hit !== undefined) throw unsupportedType(path(), hit[0], hit[1])
}

export function unsupportedType (field: string | null, type: string, instead: string): Error {
  const what = field === null ? `a field has Arrow type ${type}` : `field "${field}" has Arrow type ${type}`
  return new UnsupportedArrowTypeError(`${what}, which this gateway cannot decode or store; send ${instead} instead`)
}

/** A record or dictionary batch whose body is compressed: apache-arrow 21.2.0 has no codec. */
export function unsupportedCompression (codec?: number): Error {
  const name = codec === undefined ? '' : ` ${CODECS[codec] ?? `codec ${codec}`}`
  return new UnsupportedArrowTypeError(`IPC body compression${name} cannot be decoded; send the stream uncompressed (polars: compression: "uncompressed"; pyarrow: IpcWriteOptions(compression=None))`)
}

/** apache-arrow's own messages for the same cases, should one reach it (e.g. from a file footer). */
export function fromArrowMessage (message: string): Error | null {
  const type = /Unrecognized type: "(\w+)" \((\d+)\)/.exec(message)
  if (type !== null) {
    const hit = BY_TAG[Number(type[2])]
    return unsupportedType(null, hit?.[0] ?? type[1], hit?.[1] ?? 'a type listed in the README (API, Types)')
  }
  if (/is compressed but codec not found/.test(message)) return unsupportedCompression()
  return null
}
