import { FreeList } from './free-list.ts'

/**
 * Reused ArrayBuffers for the IPC message bodies a request's framer must copy into one piece
 * (a body that spans socket chunks): a 10 MiB record batch copied into a new buffer cost ~90 ms
 * of event loop in page faults, into a reused one ~1 ms (see FreeList). A request takes a lease;
 * its buffers go back to the pool when the lease is released, i.e. when nothing reads the
 * request's batches any more (its rows are committed, or it failed).
 */
export class BufferPool {
  #list: FreeList<ArrayBuffer>

  /**
   * @param maxFreeBytes most bytes kept for reuse: a number, or a budget read each time (the
   *   ingest service passes what MAX_BUFFERED_BYTES leaves beside the bytes held, so buffers in
   *   use and buffers kept together stay within it)
   * @param minBytes smaller requests are plain allocations (malloc reuses those well by itself)
   */
  constructor (maxFreeBytes: number | (() => number), private readonly minBytes = 256 * 1024, idleMs = 10_000) {
    // Sizes in 64 KiB steps: in 1 MiB steps, the ~390 KiB record batches of a 10,000-row writer
    // each took a 1 MiB buffer, so the requests admission let in held ~2.6 × the bytes it counted
    // (README "What bounds RSS on the buffered path"; test/reliability/buffered-memory.test.ts).
    this.#list = new FreeList((n) => new ArrayBuffer(n), maxFreeBytes, 1.125, idleMs, 64 * 1024)
  }

  lease (): BufferLease {
    return new BufferLease(this)
  }

  get freeBytes (): number { return this.#list.freeBytes }

  /** @internal */
  take (n: number): ArrayBuffer | null {
    return n < this.minBytes ? null : this.#list.take(n)
  }

  /** @internal */
  give (buffers: ArrayBuffer[]): void {
    this.#list.give(buffers)
  }
}

/** One request's buffers from a BufferPool. */
export class BufferLease {
  #held: ArrayBuffer[] = []
  #released = false

  constructor (private readonly pool: BufferPool) {}

  /** `n` bytes (contents unspecified) valid until release(). */
  readonly alloc = (n: number): Uint8Array => {
    const ab = this.#released ? null : this.pool.take(n)
    if (ab === null) return new Uint8Array(n)
    this.#held.push(ab)
    return new Uint8Array(ab, 0, n)
  }

  /** Gives the buffers back: nothing may read what alloc() returned afterwards. Idempotent. */
  readonly release = (): void => {
    if (this.#released) return
    this.#released = true
    this.pool.give(this.#held.splice(0))
  }
}
