/**
 * Whether a view spans its whole (non-shared) ArrayBuffer. Only then does transferring its buffer
 * to a worker move exactly these bytes; a view into a larger buffer (a pooled or sliced one) would
 * hand over, and detach, bytes that belong to others.
 */
export function ownsBuffer (u8: Uint8Array): boolean {
  return u8.buffer instanceof ArrayBuffer && u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength
}

/** `u8` itself when it owns its buffer (zero copy on transfer), else a copy that does. */
export function transferable (u8: Uint8Array): Uint8Array {
  return ownsBuffer(u8) ? u8 : u8.slice()
}
