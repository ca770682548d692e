import type { Data, Decimal } from 'apache-arrow'
import { DecimalPrecisionError } from '../errors.ts'

const POW10: bigint[] = []
for (let i = 0, p = 1n; i <= 77; i++, p *= 10n) POW10.push(p)

/** The unscaled two's-complement integer of value i of a decimal column (stride = bitWidth / 32 words). */
export function unscaled (words: Uint32Array, i: number, stride: number): bigint {
  let v = 0n
  for (let w = stride - 1; w >= 0; w--) v = (v << 32n) | BigInt(words[i * stride + w])
  return BigInt.asIntN(stride * 32, v)
}

/** `unscaled` with the scale applied, as a decimal string without rounding: 1234 at scale 2 → `12.34`. */
export function decimalString (v: bigint, scale: number): string {
  const neg = v < 0n
  let digits = (neg ? -v : v).toString()
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0')
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`
  } else if (scale < 0) digits = v === 0n ? '0' : digits + '0'.repeat(-scale)
  return neg ? `-${digits}` : digits
}

/**
 * Every valid value of a decimal column has at most `precision` digits. Arrow does not enforce
 * it; Parquet readers trust the declared precision (DuckDB prints garbage beyond it), so a value
 * that overflows is refused with the field named (422) rather than stored wrong.
 * Fast path: a value whose high words are only sign bits holds < 2^31 (or 2^63) and so fits any
 * precision ≥ 10 (≥ 19) without a BigInt.
 */
export function checkDecimalRange (d: Data<Decimal>, path: string): void {
  const { precision, scale, bitWidth } = d.type
  const stride = bitWidth / 32
  const words = d.values as unknown as Uint32Array
  const ints = new Int32Array(words.buffer, words.byteOffset, words.length)
  const limit = POW10[precision]
  const nulls = d.nullCount !== 0 ? d.nullBitmap as Uint8Array | undefined : undefined
  const fast = precision >= 19 ? 2 : precision >= 10 ? 1 : 0
  for (let i = d.offset; i < d.offset + d.length; i++) {
    if (nulls !== undefined && nulls.length > 0 && (nulls[i >> 3] & (1 << (i & 7))) === 0) continue
    if (fast > 0 && fast <= stride && signOnly(ints, i * stride, fast, stride)) continue
    const v = unscaled(words, i, stride)
    if (v >= limit || v <= -limit) {
      throw new DecimalPrecisionError(`field "${path}": value ${decimalString(v, scale)} at row ${i - d.offset} has more than ${precision} digits (declared decimal${bitWidth}(${precision}, ${scale}))`)
    }
  }
}

/** Whether words [low, stride) of a value are copies of the sign of word low-1. */
function signOnly (ints: Int32Array, base: number, low: number, stride: number): boolean {
  const sign = ints[base + low - 1] < 0 ? -1 : 0
  for (let w = low; w < stride; w++) if (ints[base + w] !== sign) return false
  return true
}
