/**
 * Buffers kept for reuse instead of freed: on the VMs we measure on, first touching freshly
 * mapped memory costs ~9 ms per MiB (page faults), 50–100 × a copy into memory already touched.
 * Best fit on take (never more than about twice the size asked for, so a big buffer stays free
 * for a big request); at most `maxFreeBytes` kept, the largest first; all dropped after `idleMs`
 * without a give, so an idle gateway hands the memory back.
 */
export class FreeList<B extends ArrayBufferLike> {
  #free: B[] = []
  #freeBytes = 0
  #timer: NodeJS.Timeout | null = null

  constructor (
    private readonly create: (bytes: number) => B,
    private readonly maxFreeBytes: number,
    private readonly grow: number,
    private readonly idleMs = 10_000
  ) {}

  get freeBytes (): number { return this.#freeBytes }

  /** A buffer of at least `n` bytes: a kept one that fits, else a new one with room to grow. */
  take (n: number): B {
    let best = -1
    for (let i = 0; i < this.#free.length; i++) {
      const c = this.#free[i].byteLength
      if (c >= n && c <= 2 * n + STEP && (best < 0 || c < this.#free[best].byteLength)) best = i
    }
    if (best < 0) return this.create(Math.ceil((n * this.grow + 1) / STEP) * STEP)
    const b = this.#free.splice(best, 1)[0]
    this.#freeBytes -= b.byteLength
    return b
  }

  give (buffers: Iterable<B>): void {
    for (const b of buffers) {
      if (b.byteLength === 0 || b.byteLength > this.maxFreeBytes) continue // detached, or too big to keep
      this.#free.push(b)
      this.#freeBytes += b.byteLength
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

const STEP = 1024 * 1024
