import { DataType, type Field, type Schema } from 'apache-arrow'

/** Copies smaller than this are plain allocations: malloc reuses small blocks well by itself. */
const MIN_BYTES = 256 * 1024
/** Buffers kept for the next messages: a message body, and one spare for a larger one. */
const KEEP = 2

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

  /** For the framer's `alloc`: a new buffer until start(), a reused one (when it fits) after. */
  readonly alloc = (n: number): Uint8Array => {
    if (!this.#on || n < MIN_BYTES) return new Uint8Array(n)
    let best = -1
    for (let i = 0; i < this.#free.length; i++) {
      if (this.#free[i].byteLength >= n && (best < 0 || this.#free[i].byteLength < this.#free[best].byteLength)) best = i
    }
    const ab = best >= 0 ? this.#free.splice(best, 1)[0] : new ArrayBuffer(Math.ceil(n * 1.125 / 65536) * 65536)
    this.#lent.push(ab)
    return new Uint8Array(ab, 0, n)
  }

  /**
   * From now on, every buffer lent is given back by recycle(): call once nothing read before
   * (batches held while the request was still small) points into what alloc() returns next.
   * Stays off for a schema with dictionary-encoded columns.
   */
  start (schema: Schema): void {
    this.#on = !schema.fields.some(hasDictionary)
  }

  /** Nothing reads the messages read so far any more: their buffers take the next ones. */
  recycle (): void {
    if (this.#lent.length === 0) return
    this.#free.push(...this.#lent.splice(0))
    if (this.#free.length > KEEP) this.#free = this.#free.sort((a, b) => b.byteLength - a.byteLength).slice(0, KEEP)
  }
}

function hasDictionary (f: Field): boolean {
  return DataType.isDictionary(f.type) || (f.type.children ?? []).some(hasDictionary)
}
