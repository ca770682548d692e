import { DataType, type Field, type Schema } from 'apache-arrow'

/** Copies smaller than this are plain allocations: malloc reuses small blocks well by itself. */
const MIN_BYTES = 256 * 1024
/**
 * Buffers kept for the next messages: one, the newest (see recycle()). One message is in hand at
 * a time; keeping a second for the 50 MiB messages of a wide table held 50 MiB more for nothing.
 */
const KEEP = 1

/**
 * The buffers a staged request's framer copies record-batch bodies into (a body spanning socket
 * chunks, i.e. nearly every one). A staged request reads one message at a time and is done with
 * it once its rows were handed to the encoder, so the same buffer can take the next message. A
 * new buffer per message left the body's size in garbage ArrayBuffers between V8's collections
 * (external memory triggers one only every ~64 MiB) and, once malloc's mmap threshold had grown
 * past the message size, fragmented its heap, which then never shrank.
 *
 * Not for streams with dictionaries: the reader keeps dictionary batches across record batches.
 */
export class FrameRecycler {
  #free: ArrayBuffer[] = []
  #lent: ArrayBuffer[] = []
  #on = false

  /**
   * For the framer's `alloc`: a new buffer until start() (remembered, so that recycle() can
   * take it once the batches held before staging were written), a reused one (when it fits) after.
   */
  readonly alloc = (n: number): Uint8Array => {
    if (n < MIN_BYTES) return new Uint8Array(n)
    if (!this.#on) {
      const ab = new ArrayBuffer(n)
      this.#lent.push(ab)
      return new Uint8Array(ab)
    }
    let best = -1
    for (let i = 0; i < this.#free.length; i++) {
      if (this.#free[i].byteLength >= n && (best < 0 || this.#free[i].byteLength < this.#free[best].byteLength)) best = i
    }
    const ab = best >= 0 ? this.#free.splice(best, 1)[0] : new ArrayBuffer(Math.ceil(n * 1.125 / 65536) * 65536)
    this.#lent.push(ab)
    return new Uint8Array(ab, 0, n)
  }

  /**
   * From now on, every buffer lent (those lent before included) is given back by recycle().
   * Stays off for a schema with dictionary-encoded columns (and then forgets what it lent).
   */
  start (schema: Schema): void {
    this.#on = !schema.fields.some(hasDictionary)
    if (!this.#on) this.#lent = []
  }

  /** Nothing reads the messages read so far any more: their buffers take the next ones. */
  recycle (): void {
    if (!this.#on || this.#lent.length === 0) return
    this.#free.push(...this.#lent.splice(0))
    // The newest first: the readers in front (the framer, apache-arrow's async generators) may
    // keep the last message's buffer in a suspended frame until the next message arrives, so
    // keeping an older one would hold two.
    if (this.#free.length > KEEP) this.#free = this.#free.slice(-KEEP)
  }
}

function hasDictionary (f: Field): boolean {
  return DataType.isDictionary(f.type) || (f.type.children ?? []).some(hasDictionary)
}
