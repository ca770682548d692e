import { availableParallelism } from 'node:os'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Piscina } from 'piscina'
import type { ParquetCompression, ParquetEncoder } from './types.ts'
import type { EncodeTask } from './encode-worker.ts'
import { transferable } from '../transfer.ts'

// Same extension as this file: encode-worker.ts under tsx, encode-worker.js from dist.
const WORKER = new URL('./encode-worker' + extname(fileURLToPath(import.meta.url)), import.meta.url).href

export interface EncoderPoolOptions {
  /** Worker threads; 0 or absent = one per core. */
  threads?: number
  compression: ParquetCompression
  /** Rows per row group: large groups compress and scan best; 1M keeps a group's memory bounded. */
  maxRowGroupSize?: number
}

/**
 * Parquet encoding on a piscina worker pool. The input IPC buffer is transferred to the worker
 * (zero copy) when it owns its ArrayBuffer — the caller must not use it afterwards; a view into a
 * larger (e.g. pooled) buffer is copied first, since transferring would detach its neighbours.
 * A view of a SharedArrayBuffer is shared, not moved: it stays the caller's.
 */
export function createEncoderPool (opts: EncoderPoolOptions): ParquetEncoder {
  const threads = opts.threads && opts.threads > 0 ? opts.threads : availableParallelism()
  const maxRowGroupSize = opts.maxRowGroupSize ?? 1024 * 1024
  // piscina itself loads with the first task or warm() (after listen): nothing on the way to a
  // healthy /healthz needs it.
  let pool: Promise<Piscina> | undefined
  const started = (): Promise<Piscina> => (pool ??= import('piscina').then(({ Piscina }) => new Piscina({
    filename: WORKER,
    // Threads start on first use or with warm(), not here: each loads parquet-wasm (and, under
    // tsx, the TypeScript loader), ~1 s of CPU that would otherwise delay the server's start on
    // two cores. Once started they stay.
    minThreads: 0,
    maxThreads: threads,
    idleTimeout: 2 ** 31 - 1
  })))
  let closed = false
  // Background encodes (staged requests' row groups) run on the threads no flush is using or
  // waiting for, and one at a time when flushes want them all (so a staged request never starves):
  // a flush queues behind at most the background encodes already started.
  let foreground = 0
  const background = new BackgroundQueue(() => Math.max(1, threads - foreground))

  return {
    threads,
    async warm () {
      if (closed) return
      try {
        const p = await started()
        await Promise.all(Array.from({ length: threads }, () => p.run(null, { name: 'warm' })))
      } catch (err) {
        // A close while the threads were starting terminates them: nothing failed.
        if (!closed) throw err
      }
    },
    async encode (ipc, o) {
      if (closed) throw new Error('encoder pool is closed')
      const later = o?.background === true
      const turn = later ? background.turn() : null
      if (turn !== null) await turn
      else if (!later) foreground++
      try {
        // A shared buffer is read in place by the worker: the caller may reuse it once this resolves.
        const shared = ipc.buffer instanceof SharedArrayBuffer
        const input = shared ? ipc : transferable(ipc)
        const task: EncodeTask = { ipc: input, compression: opts.compression, maxRowGroupSize, dictionaryColumns: o?.dictionaryColumns, metadata: o?.metadata }
        return await (await started()).run(task, shared ? {} : { transferList: [input.buffer as ArrayBuffer] }) as Uint8Array
      } finally {
        if (later) background.done()
        else foreground--
        background.next()
      }
    },
    async runTask (filename, name, task, transferList) {
      if (closed) throw new Error('encoder pool is closed')
      return await (await started()).run(task, { filename, name, transferList: transferList as never })
    },
    async close () {
      if (closed) return
      closed = true
      // Graceful: queued encodes (the final flush) finish before the threads exit. A pool that
      // never ran a task has nothing to close (piscina was never loaded).
      if (pool) await (await pool).close()
    }
  }
}

/** Background tasks in arrival order, started while `free()` says a thread is left for them. */
class BackgroundQueue {
  #running = 0
  #waiting: Array<() => void> = []
  #free: () => number

  constructor (free: () => number) {
    this.#free = free
  }

  /** null when the task may start now (no await: it keeps its place among tasks submitted meanwhile). */
  turn (): Promise<void> | null {
    if (this.#waiting.length === 0 && this.#running < this.#free()) {
      this.#running++
      return null
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve))
  }

  done (): void {
    this.#running--
  }

  /** Starts waiting tasks while threads are free (after any encode ended). */
  next (): void {
    while (this.#waiting.length > 0 && this.#running < this.#free()) {
      this.#running++
      this.#waiting.shift()!()
    }
  }
}
