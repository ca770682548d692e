/**
 * Reused ArrayBuffers for the IPC message bodies a request's framer must copy into one piece
 * (a body that spans socket chunks). On the VMs we measure on, first touching freshly mapped
 * memory costs ~9 ms per MiB in page faults; a 10 MiB record batch copied into a new buffer cost
 * ~90 ms of event loop, into a reused one ~1 ms. A request takes a lease; its buffers go back to
 * the pool when the lease is released, i.e. when nothing reads the request's batches any more
 * (its rows are committed, or it failed). Free buffers are dropped after a quiet spell.
 */
export class BufferPool {
  #free: ArrayBuffer[] = []
  #freeBytes = 0
  #timer: NodeJS.Timeout | null = null

  /**
   * @param maxFreeBytes most bytes kept for reuse
   * @param minBytes smaller requests are plain allocations (malloc reuses those well by itself)
   */
  constructor (private readonly maxFreeBytes: number, private readonly minBytes = 256 * 1024, private readonly idleMs = 10_000) {}

  lease (): BufferLease {
    return new BufferLease(this)
  }

  get freeBytes (): number { return this.#freeBytes }

  /** @internal */
  take (n: number): ArrayBuffer | null {
    if (n < this.minBytes) return null
    let best = -1
    for (let i = 0; i < this.#free.length; i++) {
      const c = this.#free[i].byteLength
      // Best fit, and never more than twice the size: a huge buffer must not pin memory for a small body.
      if (c >= n && c <= 2 * n + STEP && (best < 0 || c < this.#free[best].byteLength)) best = i
    }
    if (best < 0) return new ArrayBuffer(roundUp(n))
    const ab = this.#free.splice(best, 1)[0]
    this.#freeBytes -= ab.byteLength
    return ab
  }

  /** @internal */
  give (buffers: ArrayBuffer[]): void {
    for (const ab of buffers) {
      if (ab.byteLength === 0 || ab.byteLength > this.maxFreeBytes) continue // detached, or too big to keep
      this.#free.push(ab)
      this.#freeBytes += ab.byteLength
    }
    if (this.#freeBytes > this.maxFreeBytes) {
      this.#free.sort((a, b) => b.byteLength - a.byteLength)
      while (this.#freeBytes > this.maxFreeBytes) this.#freeBytes -= this.#free.pop()!.byteLength
    }
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => { this.#free = []; this.#freeBytes = 0; this.#timer = null }, this.idleMs)
    this.#timer.unref()
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

const STEP = 1024 * 1024

function roundUp (n: number): number {
  return Math.ceil((n + n / 8) / STEP) * STEP
}
