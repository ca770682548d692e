import { OverloadedError } from '../errors.ts'

/** What admission needs to know about the pipeline's buffers. */
export interface BufferGauge {
  /** Bytes the pipeline buffers now (validated rows waiting for their flush). */
  bufferedBytes (): number
  /** Resolves once the pipeline has released some of its buffer (or at once when below the cap). */
  waitForCapacity (): Promise<void>
}

/** Bytes held for one request or message; grows as its body arrives, released exactly once. */
export interface Reservation {
  readonly bytes: number
  /**
   * Takes `n` more bytes of the budget; false (nothing taken) when they do not fit. `besides`: bytes
   * the same request holds in other reservations (its staging, reserveBeside): when it holds all
   * that is held, they do not keep these bytes out, as long as these alone fit in the cap.
   */
  grow (n: number, besides?: number): boolean
  release (): void
}

/**
 * MAX_BUFFERED_BYTES as a budget shared by everything that holds ingest bytes in memory: the
 * pipeline's buffers, staged requests and bodies still being read or parsed: the bound holds before a byte is read.
 * Bytes are reserved before they are read — from the declared Content-Length, or chunk by chunk —
 * so any number of concurrent requests never hold more than the cap together; a request that
 * does not fit is refused at once (503 + Retry-After) instead of being read first.
 * The one exception keeps progress possible: when nothing at all is held, a request may take
 * more than the cap (refusing it would refuse it forever).
 */
export class Admission {
  readonly cap: number
  readonly #gauge: BufferGauge
  #reserved = 0
  #peak = 0
  #waiters: Array<() => void> = []

  constructor (cap: number, gauge: BufferGauge) {
    this.cap = cap
    this.#gauge = gauge
  }

  /** Bytes reserved by requests and messages not yet handed to the pipeline (or staging). */
  get reservedBytes (): number { return this.#reserved }
  /** Highest buffered + reserved total any reservation reached since start. */
  get peakBytes (): number { return this.#peak }
  get heldBytes (): number { return this.#reserved + this.#gauge.bufferedBytes() }

  hasRoom (): boolean {
    return this.heldBytes < this.cap
  }

  /** A reservation of `n` bytes, or OverloadedError when they do not fit. */
  reserve (n: number): Reservation {
    const r = this.#open()
    if (!r.grow(n)) throw new OverloadedError()
    return r
  }

  /**
   * A reservation of `n` more bytes for a request that already holds `own` bytes: taken when they
   * fit, or when that request is the only one holding anything (a request whose working memory
   * alone exceeds the cap still progresses on an otherwise idle gateway); else OverloadedError.
   */
  reserveBeside (n: number, own: number): Reservation {
    const held = this.heldBytes
    if (held !== own && held + n > this.cap) throw new OverloadedError()
    return this.hold(n)
  }

  /**
   * A reservation for bytes already in memory (a WebSocket message `ws` has read whole): it is
   * counted so that HTTP bodies are refused meanwhile, even when it takes the total over the cap.
   */
  hold (n: number): Reservation {
    this.#take(n)
    return this.#open(n)
  }

  /**
   * A reservation of `n` bytes about to be read (a WebSocket frame whose header announced them):
   * at once when they fit (or nothing at all is held), else a promise that resolves once they do.
   * Reading waits meanwhile, so sockets never hold more than the cap between them. `now`: taken at
   * once whatever the total (the rest of a message already partly admitted: two half-read
   * messages waiting for each other's room would wait forever).
   */
  incoming (n: number, now = false): Reservation | Promise<Reservation> {
    const held = this.heldBytes
    if (now || held === 0 || held + n <= this.cap) return this.hold(n)
    return (async () => {
      for (;;) {
        const released = new Promise<void>((resolve) => this.#waiters.push(resolve))
        // The pipeline's buffers shrink without a release here: looked at again every 50 ms.
        await Promise.race([released, new Promise((resolve) => setTimeout(resolve, 50).unref())])
        const now = this.heldBytes
        if (now === 0 || now + n <= this.cap) return this.hold(n)
      }
    })()
  }

  /** Resolves once there is room again (a reservation was released or the pipeline flushed). */
  async waitForRoom (): Promise<void> {
    while (!this.hasRoom()) {
      const released = new Promise<void>((resolve) => this.#waiters.push(resolve))
      // The pipeline's wait resolves at once while it is under the cap by itself: then only a
      // released reservation can make room (reservations are transient: bodies end, messages join).
      await (this.#gauge.bufferedBytes() >= this.cap ? Promise.race([released, this.#gauge.waitForCapacity()]) : released)
    }
  }

  #take (n: number): void {
    this.#reserved += n
    this.#peak = Math.max(this.#peak, this.heldBytes)
  }

  #open (initial = 0): Reservation {
    let bytes = initial
    let released = false
    return {
      get bytes () { return bytes },
      grow: (n, besides = 0) => {
        if (released) return false
        const held = this.heldBytes
        const alone = besides > 0 && held === bytes + besides && bytes + n <= this.cap
        if (held > 0 && held + n > this.cap && !alone) return false
        this.#take(n)
        bytes += n
        return true
      },
      release: () => {
        if (released) return
        released = true
        this.#reserved -= bytes
        for (const w of this.#waiters.splice(0)) w()
      }
    }
  }
}
