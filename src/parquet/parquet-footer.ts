/**
 * Just enough of Parquet's footer (Thrift compact protocol) to read `num_rows` of FileMetaData:
 * the streaming writer skips batches it fails to write without saying so, so the encoder checks
 * the row count of what it produced before anything is committed.
 */

const MAGIC = 'PAR1'

class Compact {
  at = 0
  constructor (private readonly b: Uint8Array) {}

  byte (): number {
    if (this.at >= this.b.byteLength) throw new RangeError('parquet footer: unexpected end')
    return this.b[this.at++]
  }

  varint (): bigint {
    let v = 0n
    let shift = 0n
    for (;;) {
      const c = this.byte()
      v |= BigInt(c & 0x7f) << shift
      if ((c & 0x80) === 0) return v
      shift += 7n
      if (shift > 70n) throw new RangeError('parquet footer: varint too long')
    }
  }

  zigzag (): bigint {
    const v = this.varint()
    return (v >> 1n) ^ -(v & 1n)
  }

  skip (type: number, depth = 0): void {
    if (depth > 64) throw new RangeError('parquet footer: nested too deeply')
    switch (type) {
      case 1: case 2: return // booleans carry their value in the type
      case 3: this.at++; return
      case 4: case 5: case 6: this.varint(); return
      case 7: this.at += 8; return
      case 8: { const n = Number(this.varint()); this.at += n; return }
      case 9: case 10: {
        const h = this.byte()
        const n = (h >> 4) === 15 ? Number(this.varint()) : h >> 4
        for (let i = 0; i < n; i++) this.skip(h & 0x0f, depth + 1)
        return
      }
      case 11: {
        const n = Number(this.varint())
        if (n === 0) return
        const kv = this.byte()
        for (let i = 0; i < n; i++) { this.skip(kv >> 4, depth + 1); this.skip(kv & 0x0f, depth + 1) }
        return
      }
      case 12: this.struct(() => false, depth + 1); return
      default: throw new RangeError(`parquet footer: unknown type ${type}`)
    }
  }

  /** Walks a struct; `visit` returns true when it consumed the field itself. */
  struct (visit: (id: number, type: number) => boolean, depth = 0): void {
    let id = 0
    for (;;) {
      const h = this.byte()
      if (h === 0) return
      const delta = h >> 4
      id = delta === 0 ? Number(this.zigzag()) : id + delta
      if (!visit(id, h & 0x0f)) this.skip(h & 0x0f, depth)
    }
  }
}

/** Footer length from the last 8 bytes of a Parquet file (or of its tail). */
export function footerLength (tail: Uint8Array): number {
  const n = tail.byteLength
  if (n < 8 || Buffer.from(tail.subarray(n - 4)).toString('latin1') !== MAGIC) throw new RangeError('not a Parquet file tail')
  return new DataView(tail.buffer, tail.byteOffset + n - 8, 4).getUint32(0, true)
}

/** `num_rows` of the FileMetaData in the last bytes of a Parquet file (footer + length + magic). */
export function parquetTailRows (tail: Uint8Array): number {
  const len = footerLength(tail)
  if (len + 8 > tail.byteLength) throw new RangeError('parquet footer: tail too short')
  const r = new Compact(tail.subarray(tail.byteLength - 8 - len, tail.byteLength - 8))
  let rows: bigint | null = null
  r.struct((id, type) => {
    if (id !== 3 || type !== 6) return false
    rows = r.zigzag()
    return true
  })
  if (rows === null) throw new RangeError('parquet footer: no num_rows')
  return Number(rows)
}
