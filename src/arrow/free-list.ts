/**
 * Buffers kept for reuse instead of freed: on the VMs we measure on, first touching freshly
 * mapped memory costs ~9 ms per MiB (page faults), 50–100 × a copy into memory already touched.
 * Best fit on take (never more than about twice the size asked for, so a big buffer stays free
 * for a big request); at most `maxFreeBytes` kept (a number, or a budget read at each take and
 * give), the smallest dropped first; a buffer nobody took within `idleMs` is dropped (traffic
 * whose sizes changed must not keep the old sizes forever), and everything after `idleMs`
 * without a give, so an idle gateway hands the memory back (at V8's next collection).
 */
export class FreeList<B extends ArrayBufferLike> {
  #free: Array<{ b: B, at: number }> = []
  #freeBytes = 0
  #timer: NodeJS.Timeout | null = null
  readonly #max: () => number

  constructor (
    private readonly create: (bytes: number) => B,
    maxFreeBytes: number | (() => number),
    private readonly grow: number,
    private readonly idleMs = 10_000,
    /** New buffers' sizes are whole multiples of it (see BufferPool for a finer one). */
    private readonly step = STEP
  ) {
    this.#max = typeof maxFreeBytes === 'number' ? () => maxFreeBytes : maxFreeBytes
  }

  get freeBytes (): number { return this.#freeBytes }

  /** Bytes of the buffer take(n) creates when none is kept (what to budget for one); `grow` 1: just n, in whole steps. */
  sizeFor (n: number): number {
    return Math.ceil((n * this.grow + (this.grow > 1 ? 1 : 0)) / this.step) * this.step
  }

  /** A buffer of at least `n` bytes: a kept one that fits, else a new one with room to grow. */
  take (n: number): B {
    this.#prune()
    let best = -1
    for (let i = 0; i < this.#free.length; i++) {
      const c = this.#free[i].b.byteLength
      if (c >= n && c <= 2 * n + this.step && (best < 0 || c < this.#free[best].b.byteLength)) best = i
    }
    if (best < 0) {
      // The new buffer comes out of the same budget: what is kept beside it shrinks first.
      const size = this.sizeFor(n)
      this.#trim(this.#max() - size)
      return this.create(size)
    }
    const b = this.#free.splice(best, 1)[0].b
    this.#freeBytes -= b.byteLength
    return b
  }

  give (buffers: Iterable<B>): void {
    const max = this.#max()
    const at = Date.now()
    for (const b of buffers) {
      if (b.byteLength === 0 || b.byteLength > max) continue // detached, or too big to keep
      this.#free.push({ b, at })
      this.#freeBytes += b.byteLength
    }
    this.#prune()
    this.#trim(max)
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => { this.#free = []; this.#freeBytes = 0; this.#timer = null }, this.idleMs)
    this.#timer.unref()
  }

  /** Drops the smallest kept buffers (a big one is dearest to fault in again) until at most `max` bytes are kept. */
  #trim (max: number): void {
    if (this.#freeBytes <= max) return
    this.#free.sort((a, b) => b.b.byteLength - a.b.byteLength)
    while (this.#freeBytes > Math.max(0, max) && this.#free.length > 0) this.#freeBytes -= this.#free.pop()!.b.byteLength
  }

  /** Drops buffers kept longer than idleMs without being taken. */
  #prune (): void {
    const old = Date.now() - this.idleMs
    if (!this.#free.some((e) => e.at < old)) return
    this.#free = this.#free.filter((e) => e.at >= old || ((this.#freeBytes -= e.b.byteLength), false))
  }
}

const STEP = 1024 * 1024
