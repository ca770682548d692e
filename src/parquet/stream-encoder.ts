import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { RecordBatch } from 'apache-arrow'
import { writeIpcStream } from '../arrow/encode.ts'
import { FreeList } from '../arrow/free-list.ts'
import type { ParquetCompression, ParquetEncoder } from './types.ts'
import type { FromStreamWorker, StreamWorkerData, ToStreamWorker } from './stream-worker.ts'

// Same extension as this file: stream-worker.ts under tsx, stream-worker.js from dist.
const WORKER = new URL('./stream-worker' + extname(fileURLToPath(import.meta.url)), import.meta.url)
// Under tsx on Node 20 worker threads get no TypeScript loader (tsx registers it on the main
// thread only): the worker registers it itself before importing the .ts file. From dist, plain import.
const BOOT = WORKER.pathname.endsWith('.ts')
  ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(WORKER.href)}) })`
  : `import(${JSON.stringify(WORKER.href)})`

/**
 * Shared buffers the batches' IPC bytes are written into, read in place by the worker and reused
 * once it has copied them into parquet-wasm's memory ('taken'). A new transferred buffer per slice
 * (2 MiB) was garbage on both threads until V8's next collection (ArrayBuffers trigger one only
 * every ~64 MiB of external memory) and fragmented malloc's heaps. With reuse, the IPC bytes in
 * memory are the input window plus one slice per staged request, whatever the body size.
 * Shared by every encoder of the process; up to 32 MiB kept, all dropped after 10 s idle.
 */
const slabs = new FreeList((n) => new SharedArrayBuffer(n), 32 * 1024 * 1024, 1.125)

export interface StreamEncoderOptions {
  compression: ParquetCompression
  maxRowGroupSize: number
  /** Columns to dictionary-encode (src/parquet/dictionary.ts). */
  dictionaryColumns?: readonly string[]
  /** Footer key-value metadata (src/parquet/quiver-metadata.ts). */
  metadata?: Record<string, string>
  /** IPC bytes handed to the worker and not yet taken by the writer before write() waits. */
  inWindowBytes?: number
  /** Parquet bytes produced and not yet taken by the uploader before the worker pauses. */
  outWindowBytes?: number
  /** Runs the session on this pool's threads (parquet-wasm already loaded there) instead of a Worker of its own. */
  pool?: ParquetEncoder
}

/**
 * One Parquet object encoded incrementally in its own worker thread (parquet-wasm's streaming
 * writer, one row group at a time), for requests too large to hold. Bounded both ways: write()
 * waits while the worker is behind, and the worker waits while `output()` is not consumed.
 * The caller ends with end() and reads output() to its end, or calls destroy() to abandon it.
 */
export class ParquetStreamEncoder {
  #port: MessagePort | Worker
  #worker: Worker | null = null
  #inflight = 0
  /** Slabs posted to the worker, oldest first; the worker takes them in this order. */
  #sent: Uint8Array[] = []
  #inWindow: number
  #chunks: Uint8Array[] = []
  #rows: number | null = null
  #error: Error | null = null
  #wakers: Array<() => void> = []

  constructor (opts: StreamEncoderOptions) {
    this.#inWindow = opts.inWindowBytes ?? 4 * 1024 * 1024
    const data: StreamWorkerData = {
      compression: opts.compression,
      maxRowGroupSize: opts.maxRowGroupSize,
      dictionaryColumns: opts.dictionaryColumns,
      metadata: opts.metadata,
      outWindowBytes: opts.outWindowBytes ?? 4 * 1024 * 1024
    }
    const onMessage = (m: FromStreamWorker): void => {
      if (m.type === 'taken') this.#taken()
      else if (m.type === 'data') this.#chunks.push(m.chunk)
      else if (m.type === 'done') this.#rows = m.rows
      else this.#fail(new Error(`parquet stream encoder: ${m.message}`))
      this.#wake()
    }
    const onEnd = (): void => {
      if (this.#rows === null) this.#fail(new Error('parquet stream encoder stopped early'))
      this.#wake()
    }
    const onError = (err: Error): void => { this.#fail(err); this.#wake() }
    if (opts.pool?.runTask) {
      const { port1, port2 } = new MessageChannel()
      this.#port = port1
      port1.on('message', onMessage)
      port1.on('close', onEnd) // after every message the worker posted before closing its end
      opts.pool.runTask(WORKER.href, 'encodeStream', { ...data, port: port2 }, [port2]).catch(onError)
    } else {
      const worker = new Worker(BOOT, { eval: true, workerData: { ...data, standalone: true } })
      this.#port = this.#worker = worker
      worker.on('message', onMessage)
      worker.on('error', onError)
      worker.on('exit', onEnd)
    }
  }

  /** Rows in the finished object (once output() has ended). */
  get rows (): number | null { return this.#rows }

  /**
   * Hands one record batch to the worker (its IPC bytes are copied into a reused shared slab:
   * the batch's own buffers may be reused as soon as this resolves); waits while the worker is behind.
   */
  async write (batch: RecordBatch): Promise<void> {
    if (this.#error) throw this.#error
    const ipc = writeIpcStream([batch], batch.schema, (n) => new Uint8Array(slabs.take(n), 0, n))
    this.#sent.push(ipc)
    this.#inflight += ipc.byteLength
    this.#post({ type: 'batch', ipc })
    while (this.#inflight > this.#inWindow && this.#error === null) await this.#sleep()
    if (this.#error) throw this.#error
  }

  end (): void {
    if (this.#error === null) this.#post({ type: 'end' })
  }

  /** The Parquet bytes as they are produced; throws if the encoder fails or is destroyed. */
  async * output (): AsyncGenerator<Uint8Array> {
    for (;;) {
      const chunk = this.#chunks.shift()
      if (chunk !== undefined) {
        this.#post({ type: 'ack', bytes: chunk.byteLength })
        yield chunk
      } else if (this.#error) {
        throw this.#error
      } else if (this.#rows !== null) {
        return
      } else {
        await this.#sleep()
      }
    }
  }

  /** Abandons the object: the worker is terminated, waiting write()/output() throw `err`. */
  destroy (err: Error): void {
    this.#fail(err)
    this.#chunks = []
    // Slabs still posted stay with the worker until it stops: they are never reused, only collected.
    this.#sent = []
    this.#wake()
    if (this.#worker) {
      this.#worker.terminate().catch(() => {})
    } else {
      this.#post({ type: 'abort' })
      ;(this.#port as MessagePort).close()
    }
  }

  #taken (): void {
    const ipc = this.#sent.shift()
    if (ipc === undefined) return
    this.#inflight -= ipc.byteLength
    slabs.give([ipc.buffer as SharedArrayBuffer])
  }

  #post (m: ToStreamWorker, transfer?: ArrayBuffer[]): void {
    try {
      this.#port.postMessage(m, transfer)
    } catch (err) {
      /* c8 ignore next - only after the worker is gone, which #fail already recorded */
      this.#fail(err as Error)
    }
  }

  #fail (err: Error): void {
    if (this.#error === null && this.#rows === null) this.#error = err
  }

  #sleep (): Promise<void> {
    return new Promise((resolve) => this.#wakers.push(resolve))
  }

  #wake (): void {
    for (const w of this.#wakers.splice(0)) w()
  }
}
