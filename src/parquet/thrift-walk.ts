/**
 * Thrift compact protocol at the byte level, for rewriting a few fields of a large struct without
 * decoding the rest (src/parquet/assemble.ts: shifting the offsets of a Parquet footer). Decoding
 * every field into objects cost ~50 µs a column chunk plus its garbage: a footer of 10,000 column
 * chunks held the event loop 0.6-1.3 s. Here a field is either read (a few integers), or skipped
 * and copied as bytes.
 *
 * Integers are read as JavaScript numbers: exact up to 2^53, which file offsets, sizes and row
 * counts never reach. Values that are only copied are never decoded, whatever they hold.
 */

/** Compact protocol type ids. */
export const CT = { STOP: 0, TRUE: 1, FALSE: 2, BYTE: 3, I16: 4, I32: 5, I64: 6, DOUBLE: 7, BINARY: 8, LIST: 9, SET: 10, MAP: 11, STRUCT: 12, UUID: 13 } as const

export class ThriftError extends Error {}

export class ThriftReader {
  readonly bytes: Uint8Array
  pos: number
  readonly end: number

  constructor (bytes: Uint8Array, pos = 0, end = bytes.byteLength) {
    this.bytes = bytes
    this.pos = pos
    this.end = end
  }

  byte (): number {
    if (this.pos >= this.end) throw new ThriftError('truncated Thrift data')
    return this.bytes[this.pos++]
  }

  /** An unsigned varint (exact up to 2^53). */
  varint (): number {
    let value = 0
    let scale = 1
    for (;;) {
      const b = this.byte()
      value += (b & 0x7f) * scale
      if ((b & 0x80) === 0) return value
      scale *= 128
      if (scale > 2 ** 70) throw new ThriftError('a Thrift varint is too long')
    }
  }

  /** A zigzag varint: i16, i32, i64. */
  zigzag (): number {
    const v = this.varint()
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2
  }

  advance (n: number): void {
    if (n < 0 || this.pos + n > this.end) throw new ThriftError('truncated Thrift data')
    this.pos += n
  }

  /** Skips a value of `type` (a field's value: booleans live in the field header and take no bytes). */
  skip (type: number): void {
    switch (type) {
      case CT.TRUE: case CT.FALSE: return
      case CT.BYTE: this.advance(1); return
      case CT.I16: case CT.I32: case CT.I64: this.varint(); return
      case CT.DOUBLE: this.advance(8); return
      case CT.BINARY: this.advance(this.varint()); return
      case CT.UUID: this.advance(16); return
      case CT.LIST: case CT.SET: {
        const { size, type: item } = this.listHeader()
        for (let i = 0; i < size; i++) this.skipElement(item)
        return
      }
      case CT.MAP: {
        const size = this.varint()
        if (size === 0) return
        const kv = this.byte()
        for (let i = 0; i < size; i++) { this.skipElement(kv >> 4); this.skipElement(kv & 0x0f) }
        return
      }
      case CT.STRUCT:
        for (const f = { id: 0, type: 0 }; this.field(f);) this.skip(f.type)
        return
      default: throw new ThriftError(`unknown Thrift type ${type}`)
    }
  }

  /** Skips a list, set or map element (a boolean there is one byte). */
  skipElement (type: number): void {
    if (type === CT.TRUE || type === CT.FALSE) this.advance(1)
    else this.skip(type)
  }

  listHeader (): { size: number, type: number } {
    const b = this.byte()
    const size = b >> 4
    return { size: size === 15 ? this.varint() : size, type: b & 0x0f }
  }

  /**
   * The next field header of a struct into `f` (its id counted from the previous one, kept in
   * `f.id`); false at the struct's end (STOP).
   */
  field (f: { id: number, type: number }): boolean {
    const b = this.byte()
    if (b === CT.STOP) return false
    f.type = b & 0x0f
    const delta = b >> 4
    f.id = delta === 0 ? this.zigzag() : f.id + delta
    return true
  }
}

/** A growing buffer of Thrift compact bytes, reused: reset() keeps its memory. */
export class ThriftWriter {
  #buf = new Uint8Array(64 * 1024)
  length = 0

  reset (): void { this.length = 0 }

  /** The bytes written since reset() (a view: valid until the next write). */
  view (): Uint8Array { return this.#buf.subarray(0, this.length) }

  #room (n: number): void {
    if (this.length + n <= this.#buf.byteLength) return
    const bigger = new Uint8Array(Math.max(this.#buf.byteLength * 2, this.length + n))
    bigger.set(this.#buf.subarray(0, this.length))
    this.#buf = bigger
  }

  byte (b: number): void {
    this.#room(1)
    this.#buf[this.length++] = b
  }

  bytes (b: Uint8Array): void {
    this.#room(b.byteLength)
    this.#buf.set(b, this.length)
    this.length += b.byteLength
  }

  varint (v: number): void {
    this.#room(10)
    while (v >= 128) {
      this.#buf[this.length++] = (v % 128) | 0x80
      v = Math.floor(v / 128)
    }
    this.#buf[this.length++] = v
  }

  zigzag (v: number): void {
    this.varint(v >= 0 ? v * 2 : -v * 2 - 1)
  }

  /** A field header after field `last` of the same struct; returns `id` (the next call's `last`). */
  field (last: number, id: number, type: number): number {
    const delta = id - last
    if (delta > 0 && delta <= 15) {
      this.byte(delta << 4 | type)
    } else {
      this.byte(type)
      this.zigzag(id)
    }
    return id
  }

  listHeader (size: number, type: number): void {
    if (size < 15) {
      this.byte(size << 4 | type)
    } else {
      this.byte(0xf0 | type)
      this.varint(size)
    }
  }

  stop (): void { this.byte(CT.STOP) }
}
