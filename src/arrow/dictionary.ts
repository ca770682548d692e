import { type Data, type Dictionary, makeData, makeVector, Type, vectorFromArray, type Vector } from 'apache-arrow'
import { InvalidArrowError } from '../errors.ts'

/**
 * Turns a dictionary-encoded column into plain values of the dictionary's value type
 * (e.g. `dictionary<values=string, indices=int32>` → `string`), so it can be stored under a plain
 * topic type. Strings and binaries are gathered straight into new buffers; other value types go
 * through apache-arrow's builders (slower, rare).
 */
export function decodeDictionary (data: Data<Dictionary>): Data {
  const dict = data.dictionary as Vector | undefined
  /* c8 ignore next - apache-arrow's reader always attaches the dictionary it decoded */
  if (dict === undefined) throw new Error('dictionary column without a dictionary')
  const valueType = data.type.dictionary
  const single = dict.data.length === 1 ? dict.data[0] : undefined
  const stringy = valueType.typeId === Type.Utf8 || valueType.typeId === Type.Binary
  if (single !== undefined && stringy && data.offset === 0 && single.offset === 0) return gatherBytes(data, single)
  const vec = makeVector(data)
  const values = new Array(data.length)
  for (let i = 0; i < data.length; i++) values[i] = vec.get(i)
  return vectorFromArray(values, valueType).data[0]
}

/** Gathers variable-width values by index into fresh offsets + bytes (validity reused as is). */
function gatherBytes (data: Data<Dictionary>, dict: Data): Data {
  const idx = data.values as ArrayLike<number>
  const srcOff = dict.valueOffsets as Int32Array
  const srcBytes = dict.values as Uint8Array
  const n = data.length
  const nulls = data.nullCount > 0 ? data.nullBitmap : undefined
  const valid = (i: number) => nulls === undefined || (nulls[i >> 3] & (1 << (i & 7))) !== 0
  const offsets = new Int32Array(n + 1)
  let total = 0
  for (let i = 0; i < n; i++) {
    if (valid(i)) {
      const k = Number(idx[i])
      if (!(k >= 0 && k < dict.length)) throw new InvalidArrowError(`dictionary index ${k} out of range (dictionary has ${dict.length} values)`)
      total += srcOff[k + 1] - srcOff[k]
    }
    offsets[i + 1] = total
  }
  const bytes = new Uint8Array(total)
  for (let i = 0; i < n; i++) {
    if (offsets[i + 1] === offsets[i]) continue
    const k = Number(idx[i])
    bytes.set(srcBytes.subarray(srcOff[k], srcOff[k + 1]), offsets[i])
  }
  return makeData({
    type: data.type.dictionary,
    length: n,
    nullCount: data.nullCount,
    nullBitmap: nulls,
    valueOffsets: offsets,
    data: bytes
  } as Parameters<typeof makeData>[0])
}
