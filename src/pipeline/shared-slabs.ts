import { FreeList } from '../arrow/free-list.ts'

/**
 * Reusable SharedArrayBuffers for the IPC streams handed to the encoder threads: a new 60 MiB
 * buffer per flush cost more in page faults than the copy itself (see FreeList). A shared buffer
 * is read by the worker in place (nothing is transferred), so it can be reused for the next flush
 * once the encode that read it has finished.
 */
export class SharedSlabs {
  #list: FreeList<SharedArrayBuffer>

  /**
   * @param maxFreeBytes most bytes kept for reuse
   * @param grow a new slab's room beyond the size asked for (1: callers that already asked for room)
   */
  constructor (maxFreeBytes: number, idleMs = 10_000, grow = 1.25) {
    this.#list = new FreeList((n) => new SharedArrayBuffer(n), maxFreeBytes, grow, idleMs)
  }

  /** Bytes of the slab acquire(n) creates when none is kept. */
  sizeFor (n: number): number { return this.#list.sizeFor(n) }

  /** A view of exactly `n` bytes on a slab (contents unspecified). Give it back with release(). */
  acquire (n: number): Uint8Array {
    return new Uint8Array(this.#list.take(n), 0, n)
  }

  release (view: Uint8Array): void {
    if (view.buffer instanceof SharedArrayBuffer) this.#list.give([view.buffer])
  }

  get retainedBytes (): number { return this.#list.freeBytes }
}
