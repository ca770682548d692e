/*
 * 64-bit integers read and written as two 32-bit words (little-endian, as Arrow and every
 * platform Node runs on lay them out): a BigInt per value cost ~10-20 ms per 100,000 values, and
 * as much again in garbage. Values below 2^53 are exact as doubles; callers take the BigInt path
 * for larger ones when exactness matters.
 */

export const TWO32 = 4294967296

export interface Int64Words { lo: Uint32Array, hi: Int32Array }

/** Word views of `a` (no copy): value i is `hi[2i + 1] * 2^32 + lo[2i]`. */
export function int64Words (a: BigInt64Array | BigUint64Array): Int64Words {
  return { lo: new Uint32Array(a.buffer, a.byteOffset, a.length * 2), hi: new Int32Array(a.buffer, a.byteOffset, a.length * 2) }
}

/** Value i as the double nearest to it: exact below 2^53, rounded once above (as Number(bigint)). */
export function readInt64 (w: Int64Words, i: number): number {
  return w.hi[2 * i + 1] * TWO32 + w.lo[2 * i]
}

/** Stores integer `v` (|v| ≤ 2^53) at index i. */
export function writeInt64 (w: Int64Words, i: number, v: number): void {
  const hi = Math.floor(v / TWO32)
  w.hi[2 * i + 1] = hi
  w.lo[2 * i] = v - hi * TWO32
}

/** Whether value i is below 2^53 in magnitude (its high word within ±2^21): exact as a double. */
export function isSafeInt64 (w: Int64Words, i: number): boolean {
  const hi = w.hi[2 * i + 1]
  return hi < 0x200000 && hi >= -0x200000
}
