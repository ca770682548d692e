/**
 * One topic's buffer. Entries (each one request's staged batches) wait here until the buffer is
 * due — FLUSH_INTERVAL_MS after the previous flush started, or after the first entry arrived when
 * the buffer was idle for longer than that, or as soon as it is full — and are then
 * written together: one `write` call (one object) per partition key per flush, whatever the
 * number of writers. Full means holding maxBytes, or not having room for the next entry: a flush
 * takes at most maxBytes (a single larger entry goes alone), so objects stay near the configured
 * size and, under load, consecutive flushes overlap on the encoder threads instead of one
 * oversized flush running alone. Up to maxInFlight flushes run at once.
 *
 * A failed write settles exactly the entries of that write: entries marked `retain` (already
 * acknowledged to their producer) go back to the front of the buffer and are retried with
 * backoff; the others are rejected and dropped so a client retry cannot duplicate them.
 *
 * A request spanning partitions is several entries, `siblings` of one another, written as
 * separate objects, and all-or-nothing for its producer: once one of them is committed the others
 * are retained (retried until they commit; an error would make the producer resend stored rows).
 * A sibling that fails while others are still buffered or being written is held, neither retried
 * nor rejected, until their outcome is known: retried if one of them commits, rejected with them
 * if none does. Deciding at once let a fast failure reject the request while a slower sibling
 * then committed (a 503 for stored rows, which a keyed retry stored a second time).
 */
import { systemClock, type Clock } from '../clock.ts'

export interface BatchEntry<T> {
  payload: T
  rows: number
  bytes: number
  /** Entries with the same key end up in the same object (e.g. the UTC hour partition). */
  partition: string
  retain: boolean
  /** The entries of the same request in other partitions (this one included), all-or-nothing together. */
  siblings?: ReadonlyArray<BatchEntry<T>>
}

export interface BatcherOptions<T> {
  intervalMs: number
  maxBytes: number
  write: (partition: string, entries: Array<BatchEntry<T>>) => Promise<void>
  /** Called once per entry when it leaves the buffer for good (committed, or dropped with `err`). */
  onSettled?: (entry: BatchEntry<T>, err: Error | null) => void
  /** Delay before retrying retained entries after `failures` consecutive failed flushes. */
  retryDelayMs?: (failures: number) => number
  /**
   * Flushes of this buffer that may run at once (default 1). One topic under heavy load keeps
   * every encoder thread busy only if a size-triggered flush may start while the previous one is
   * still encoding; each flush is still one object per partition.
   */
  maxInFlight?: number
  /**
   * Fraction (0–1) by which to shorten this buffer's second window, once. Buffers filled from the
   * same start flush at the same instants forever after, so every topic's encode queues behind
   * the others' on the same few threads; shifting each buffer's phase once by a different amount
   * spreads the flushes over the interval. No window is ever longer than FLUSH_INTERVAL_MS.
   */
  desync?: () => number
  /** Windows and backoff are timed on it (default: the system's). */
  clock?: Clock
  /**
   * Most distinct partitions one flush may write (MAX_PARTITIONS_PER_FLUSH): an entry of a new
   * partition beyond it makes what is buffered due, and a flush takes entries only up to it.
   */
  maxPartitions?: number
}

interface Slot<T> {
  entry: BatchEntry<T>
  /** clock.now() when it was added: its flush is due FLUSH_INTERVAL_MS later. */
  since: number
  attempts: number
  lastError: Error | null
  /** held: failed while siblings were still open, waiting for their outcome (see the module comment). */
  state: 'buffered' | 'flying' | 'held' | 'committed' | 'dropped'
  resolve: () => void
  reject: (err: Error) => void
}

export const defaultRetryDelay = (failures: number): number => Math.min(30_000, 250 * 2 ** Math.min(failures - 1, 7))

export class Batcher<T> {
  #opts: BatcherOptions<T>
  #pending: Array<Slot<T>> = []
  #flying = new Set<Slot<T>>()
  #pendingBytes = 0
  #pendingRows = 0
  #flyingBytes = 0
  #flyingRows = 0
  #clock: Clock
  #timer: unknown = null
  #due = false
  #inFlight = new Set<Promise<void>>()
  #failures = 0
  #closed = false
  #flushes = 0
  #shifted = false
  /** clock.now() when the last flush started (null before the first). */
  #lastStart: number | null = null
  /** Buffered entries per partition key (the flush-time partition bound counts its keys). */
  #parts = new Map<string, number>()
  /** Each entry's slot, for the siblings' states. */
  #slots = new WeakMap<BatchEntry<T>, Slot<T>>()
  /** Failed entries waiting for their siblings' outcome, by sibling set. */
  #held = new Map<ReadonlyArray<BatchEntry<T>>, Array<Slot<T>>>()

  constructor (opts: BatcherOptions<T>) {
    this.#opts = opts
    this.#clock = opts.clock ?? systemClock
  }

  get bufferedBytes (): number { return this.#pendingBytes + this.#flyingBytes }
  get bufferedRows (): number { return this.#pendingRows + this.#flyingRows }
  get idle (): boolean { return this.#pending.length === 0 && this.#flying.size === 0 }

  /**
   * Buffers the entries of one request together (e.g. its partitions). When they fit under the
   * partition bound alone but not beside what is buffered, what is buffered is flushed first.
   */
  addAll (entries: Array<BatchEntry<T>>): Promise<void[]> {
    const max = this.#opts.maxPartitions
    if (max !== undefined && this.#pending.length > 0) {
      const union = new Set(this.#parts.keys())
      for (const e of entries) union.add(e.partition)
      if (union.size > max) {
        this.#due = true
        this.#kick()
      }
    }
    return Promise.all(entries.map((e) => this.add(e)))
  }

  /** Buffers the entry; resolves once it is committed, rejects if its flush fails and it is not retained. */
  add (entry: BatchEntry<T>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const max = this.#opts.maxPartitions
      if (this.#pending.length > 0 && (this.#pendingBytes + entry.bytes > this.#opts.maxBytes ||
        (max !== undefined && !this.#parts.has(entry.partition) && this.#parts.size >= max))) {
        // No room for it: what is buffered is a full flush already.
        this.#due = true
        this.#kick()
      }
      const slot: Slot<T> = { entry, since: this.#clock.now(), attempts: 0, lastError: null, state: 'buffered', resolve, reject }
      this.#slots.set(entry, slot)
      this.#pending.push(slot)
      this.#count(entry, 1)
      this.#pendingBytes += entry.bytes
      this.#pendingRows += entry.rows
      if (this.#pendingBytes >= this.#opts.maxBytes) {
        this.#due = true
        this.#kick()
      } else if (this.#timer === null) {
        // After failed flushes the next attempt waits for the backoff, but it must be scheduled:
        // nothing else would start it when no retained entry is left to retry.
        this.#startTimer(this.#failures === 0 ? this.#windowLeft() : (this.#opts.retryDelayMs ?? defaultRetryDelay)(this.#failures))
      }
    })
  }

  /**
   * Flushes everything buffered now (ignoring backoff); resolves when all of it is committed,
   * rejects with the first failure any of it met on the way.
   */
  async flush (): Promise<void> {
    const targets = [...this.#flying, ...this.#pending].map((s) => ({ s, attempts: s.attempts }))
    for (;;) {
      let open = false
      for (const { s, attempts } of targets) {
        if (s.state === 'committed') continue
        if (s.lastError && (s.state === 'dropped' || s.attempts > attempts)) throw s.lastError
        open = true
      }
      if (!open) return
      if (this.#inFlight.size > 0) await Promise.race(this.#inFlight)
      else {
        this.#due = true
        this.#kick()
      }
    }
  }

  /** Stops the timers. Call flush() first: whatever is still buffered is rejected with `err`. */
  close (err: Error): void {
    this.#closed = true
    this.#clearTimer()
    for (const s of this.#pending.splice(0)) this.#drop(s, err)
    for (const held of [...this.#held.values()]) for (const s of held) this.#drop(s, s.lastError ?? err)
    this.#held.clear()
    this.#parts.clear()
    this.#pendingBytes = 0
    this.#pendingRows = 0
  }

  /** A new window's length: the interval, except the one shortened window of `desync`. */
  #windowMs (): number {
    if (this.#shifted || this.#flushes === 0 || !this.#opts.desync) return this.#opts.intervalMs
    this.#shifted = true
    return this.#opts.intervalMs * (1 - Math.min(1, Math.max(0, this.#opts.desync())))
  }

  /**
   * Time left in the window the first new entry opens. Under steady load the windows follow one
   * another, each FLUSH_INTERVAL_MS after the previous flush started: entries that arrive while a
   * flush is being written wait only for the rest of the interval, not a whole one after it. A
   * closed-loop producer, which sends again as soon as its last rows are acknowledged, then gets
   * one round trip per interval instead of one per interval plus the flush's duration. After an
   * idle spell (the previous flush started more than a window ago) the window is whole again, so
   * a burst's entries still share one object. Still at most one timed flush per window, and no
   * entry waits longer than FLUSH_INTERVAL_MS for its flush to start.
   */
  #windowLeft (): number {
    const len = this.#windowMs()
    if (this.#lastStart === null) return len
    const left = this.#lastStart + len - this.#clock.now()
    return left > 0 ? left : len
  }

  #startTimer (ms: number): void {
    this.#clearTimer()
    if (this.#closed) return
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null
      this.#due = true
      this.#kick()
    }, ms)
  }

  #clearTimer (): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer)
    this.#timer = null
  }

  #kick (): void {
    if (this.#inFlight.size >= (this.#opts.maxInFlight ?? 1) || !this.#due || this.#pending.length === 0) return
    // While writes fail, one flush at a time: retries back off instead of piling up.
    if (this.#failures > 0 && this.#inFlight.size > 0) return
    this.#due = false
    this.#clearTimer()
    this.#flushes++
    this.#lastStart = this.#clock.now()
    let take = 0
    let bytes = 0
    const parts = new Set<string>()
    const maxParts = this.#opts.maxPartitions ?? Infinity
    while (take < this.#pending.length && (take === 0 || (bytes + this.#pending[take].entry.bytes <= this.#opts.maxBytes &&
      (parts.has(this.#pending[take].entry.partition) || parts.size < maxParts)))) {
      parts.add(this.#pending[take].entry.partition)
      bytes += this.#pending[take].entry.bytes
      take++
    }
    const batch = this.#pending.splice(0, take)
    this.#pendingBytes -= bytes
    for (const s of batch) {
      this.#count(s.entry, -1)
      this.#pendingRows -= s.entry.rows
      s.state = 'flying'
      this.#flying.add(s)
      this.#flyingBytes += s.entry.bytes
      this.#flyingRows += s.entry.rows
    }
    const run: Promise<void> = this.#run(batch).finally(() => {
      this.#inFlight.delete(run)
      this.#afterRun()
    })
    this.#inFlight.add(run)
    if (this.#pending.length > 0) {
      // What did not fit is due as a full buffer, or when its own oldest entry's interval ends.
      if (this.#pendingBytes >= this.#opts.maxBytes || this.#parts.size > maxParts) {
        this.#due = true
        this.#kick()
      } else {
        this.#startTimer(Math.max(0, this.#pending[0].since + this.#opts.intervalMs - this.#clock.now()))
      }
    }
  }

  #afterRun (): void {
    if (this.#pending.length === 0 || this.#closed) return
    if (this.#failures > 0) {
      this.#startTimer((this.#opts.retryDelayMs ?? defaultRetryDelay)(this.#failures))
    } else if (this.#due || this.#pendingBytes >= this.#opts.maxBytes) {
      this.#due = true
      this.#kick()
    } else if (this.#timer === null) {
      this.#startTimer(this.#windowLeft())
    }
  }

  async #run (batch: Array<Slot<T>>): Promise<void> {
    const groups = new Map<string, Array<Slot<T>>>()
    for (const s of batch) {
      const g = groups.get(s.entry.partition)
      if (g) g.push(s)
      else groups.set(s.entry.partition, [s])
    }
    let failed = false
    await Promise.all([...groups].map(async ([partition, slots]) => {
      let err: Error | null = null
      try {
        await this.#opts.write(partition, slots.map((s) => s.entry))
      } catch (e) {
        err = e instanceof Error ? e : new Error(String(e))
        failed = true
      }
      // An error may name the only entries it concerns (`failed`); the others were written.
      const failedOnly = (err as { failed?: Set<BatchEntry<T>> } | null)?.failed
      const retained: Array<Slot<T>> = []
      for (const s of slots) {
        this.#flying.delete(s)
        this.#flyingBytes -= s.entry.bytes
        this.#flyingRows -= s.entry.rows
        s.attempts++
        const slotErr = err && (!failedOnly || failedOnly.has(s.entry)) ? err : null
        s.lastError = slotErr
        const retryable = !this.#closed && (slotErr as { retryable?: boolean } | null)?.retryable !== false
        if (!slotErr) {
          s.state = 'committed'
          this.#opts.onSettled?.(s.entry, null)
          s.resolve()
          // Its siblings must now land too: those failed meanwhile go back to the buffer.
          const siblings = s.entry.siblings
          if (siblings !== undefined) {
            for (const e of siblings) e.retain = true
            for (const h of this.#held.get(siblings) ?? []) retained.push(this.#rebuffer(h))
            this.#held.delete(siblings)
          }
        } else if (s.entry.retain && retryable) {
          retained.push(this.#rebuffer(s))
        } else if (retryable && this.#siblingsOpen(s)) {
          s.state = 'held'
          const siblings = s.entry.siblings!
          const held = this.#held.get(siblings)
          if (held) held.push(s)
          else this.#held.set(siblings, [s])
        } else {
          this.#drop(s, slotErr)
          // The last of a request's open siblings failed: the held ones fail with it.
          const siblings = s.entry.siblings
          if (siblings !== undefined && !this.#siblingsOpen(s)) {
            for (const h of this.#held.get(siblings) ?? []) this.#drop(h, h.lastError ?? slotErr)
            this.#held.delete(siblings)
          }
        }
      }
      // Acknowledged data goes back ahead of newer entries so it is written in arrival order.
      this.#pending = retained.concat(this.#pending)
    }))
    this.#failures = failed ? this.#failures + 1 : 0
  }

  /** A failed slot back in the buffer, to be retried (the caller puts it ahead of newer entries). */
  #rebuffer (s: Slot<T>): Slot<T> {
    s.state = 'buffered'
    this.#count(s.entry, 1)
    this.#pendingBytes += s.entry.bytes
    this.#pendingRows += s.entry.rows
    return s
  }

  /** Some other entry of `s`'s request is still buffered or being written. */
  #siblingsOpen (s: Slot<T>): boolean {
    for (const e of s.entry.siblings ?? []) {
      if (e === s.entry) continue
      const state = this.#slots.get(e)?.state
      if (state === 'buffered' || state === 'flying') return true
    }
    return false
  }

  #count (entry: BatchEntry<T>, delta: number): void {
    const n = (this.#parts.get(entry.partition) ?? 0) + delta
    if (n > 0) this.#parts.set(entry.partition, n)
    else this.#parts.delete(entry.partition)
  }

  #drop (s: Slot<T>, err: Error): void {
    s.state = 'dropped'
    s.lastError = err
    this.#opts.onSettled?.(s.entry, err)
    s.reject(err)
  }
}
