/**
 * Reusable SharedArrayBuffers for the IPC streams handed to the encoder threads. On the VMs we
 * measure on, touching freshly mapped memory costs ~9 ms per MiB (page faults), 50–100 × a copy
 * into memory already touched: a new 60 MiB buffer per flush cost more than the copy itself.
 * A shared buffer is read by the worker in place (nothing is transferred), so it can be reused
 * for the next flush once the encode that read it has finished. At most `maxFreeBytes` wait for
 * reuse, and they are dropped after a quiet spell so an idle gateway gives the memory back.
 */
export class SharedSlabs {
  #free: SharedArrayBuffer[] = []
  #freeBytes = 0
  #timer: NodeJS.Timeout | null = null

  constructor (private readonly maxFreeBytes: number, private readonly idleMs = 10_000) {}

  /** A view of exactly `n` bytes on a slab (contents unspecified). Give it back with release(). */
  acquire (n: number): Uint8Array {
    let best = -1
    for (let i = 0; i < this.#free.length; i++) {
      const c = this.#free[i].byteLength
      // Best fit, at most about twice the size: a big slab stays free for a big flush.
      if (c >= n && c <= 2 * n + STEP && (best < 0 || c < this.#free[best].byteLength)) best = i
    }
    let sab: SharedArrayBuffer
    if (best >= 0) {
      sab = this.#free.splice(best, 1)[0]
      this.#freeBytes -= sab.byteLength
    } else sab = new SharedArrayBuffer(roundUp(n))
    return new Uint8Array(sab, 0, n)
  }

  release (view: Uint8Array): void {
    const sab = view.buffer
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength > this.maxFreeBytes) return
    this.#free.push(sab)
    this.#freeBytes += sab.byteLength
    if (this.#freeBytes > this.maxFreeBytes) {
      // Keep the largest: a small slab can never serve a flush a larger one cannot.
      this.#free.sort((a, b) => b.byteLength - a.byteLength)
      while (this.#freeBytes > this.maxFreeBytes) this.#freeBytes -= this.#free.pop()!.byteLength
    }
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => { this.#free = []; this.#freeBytes = 0; this.#timer = null }, this.idleMs)
    this.#timer.unref()
  }

  get retainedBytes (): number { return this.#freeBytes }
}

const STEP = 1024 * 1024

/** Room to grow: the next flush is rarely exactly the same size. */
function roundUp (n: number): number {
  return Math.ceil((n * 1.25 + 1) / STEP) * STEP
}
