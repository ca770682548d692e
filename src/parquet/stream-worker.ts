import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads'
import { Table, transformParquetStream, type RecordBatch } from 'parquet-wasm'
import type { ParquetCompression } from './types.ts'
import { parquetTailRows } from './parquet-footer.ts'
import { writerProperties } from './writer-props.ts'
import { transferable } from '../transfer.ts'

export interface StreamWorkerData {
  /** Set when this module is a dedicated Worker's entry rather than a task of the encoder pool. */
  standalone?: boolean
  compression: ParquetCompression
  maxRowGroupSize: number
  dictionaryColumns?: readonly string[]
  metadata?: Record<string, string>
  /** Output bytes posted but not yet taken by the uploader before this worker stops encoding. */
  outWindowBytes: number
}

export type ToStreamWorker =
  | { type: 'batch', ipc: Uint8Array }
  | { type: 'end' }
  | { type: 'ack', bytes: number }
  | { type: 'abort' }

export type FromStreamWorker =
  | { type: 'taken', bytes: number }
  | { type: 'data', chunk: Uint8Array }
  | { type: 'done', rows: number }
  | { type: 'error', message: string }

/** Enough of the output's end to hold the footer of a multi-GiB object (~1 KiB per row group). */
const TAIL_BYTES = 2 * 1024 * 1024

/** One streaming session over `port`: IPC messages in, Parquet bytes out (see stream-encoder.ts). */
export async function encodeStream (task: StreamWorkerData & { port: MessagePort }): Promise<void> {
  const { port } = task
  try {
    await run(port, task)
  } catch (err) {
    try {
      port.postMessage({ type: 'error', message: (err as Error)?.message ?? String(err) } satisfies FromStreamWorker)
    } catch {} // the other side is gone
  } finally {
    port.close()
  }
}

async function run (port: MessagePort, opts: StreamWorkerData): Promise<void> {
  const post = (m: FromStreamWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer)
  const inbox: Array<Uint8Array | null> = []
  let inboxWaiter: (() => void) | null = null
  let unacked = 0
  let ackWaiter: (() => void) | null = null
  let aborted = false
  const abort = (): void => {
    aborted = true
    for (const w of [inboxWaiter, ackWaiter]) w?.()
    inboxWaiter = ackWaiter = null
  }
  // The request failed: stop soon, so this thread is free again for the pool's other work.
  port.on('close', abort)

  port.on('message', (m: ToStreamWorker) => {
    if (m.type === 'abort') { abort(); return }
    if (m.type === 'ack') {
      unacked -= m.bytes
      if (unacked <= opts.outWindowBytes && ackWaiter) { const w = ackWaiter; ackWaiter = null; w() }
      return
    }
    inbox.push(m.type === 'batch' ? m.ipc : null)
    if (inboxWaiter) { const w = inboxWaiter; inboxWaiter = null; w() }
  })

  async function nextInput (): Promise<Uint8Array | null> {
    // eslint-disable-next-line no-unmodified-loop-condition -- set by the message handler
    while (inbox.length === 0 && !aborted) await new Promise<void>((resolve) => { inboxWaiter = resolve })
    if (aborted) throw new Error('aborted')
    return inbox.shift()!
  }

  let rows = 0
  // Pulled one IPC message at a time, only when the writer wants more: a writer blocked on its
  // output (the uploader is slow) stops pulling, which stops the credits the request reader waits for.
  const source = new ReadableStream<RecordBatch>({
    async pull (controller) {
      const ipc = await nextInput()
      if (ipc === null) { controller.close(); return }
      const table = Table.fromIPCStream(ipc)
      for (const b of table.recordBatches()) {
        rows += b.numRows
        controller.enqueue(b)
      }
      table.free()
      post({ type: 'taken', bytes: ipc.byteLength })
    }
  }, { highWaterMark: 0 })
  const out = await transformParquetStream(source, writerProperties(opts.compression, opts.maxRowGroupSize, opts.dictionaryColumns, opts.metadata))
  const reader = (out as ReadableStream<Uint8Array>).getReader()
  // The last TAIL_BYTES of the output (a copy: the chunks themselves are transferred away).
  let tail = new Uint8Array(0)
  for (;;) {
    const r = await reader.read()
    if (r.done) break
    const chunk = r.value
    const keep = chunk.subarray(Math.max(0, chunk.byteLength - TAIL_BYTES))
    const old = Math.min(tail.byteLength, TAIL_BYTES - keep.byteLength)
    const next = new Uint8Array(old + keep.byteLength)
    next.set(tail.subarray(tail.byteLength - old))
    next.set(keep, old)
    tail = next
    const copy = transferable(chunk)
    unacked += copy.byteLength
    post({ type: 'data', chunk: copy }, [copy.buffer as ArrayBuffer])
    // eslint-disable-next-line no-unmodified-loop-condition -- set by the message handler
    while (unacked > opts.outWindowBytes && !aborted) await new Promise<void>((resolve) => { ackWaiter = resolve })
    if (aborted) {
      await reader.cancel().catch(() => {})
      throw new Error('aborted')
    }
  }
  // The streaming writer skips a batch it cannot write without erroring the stream: count.
  const written = parquetTailRows(tail)
  if (written !== rows) throw new Error(`the Parquet writer wrote ${written} of ${rows} rows`)
  post({ type: 'done', rows })
}

if (!isMainThread && (workerData as StreamWorkerData | null)?.standalone === true) {
  encodeStream({ ...(workerData as StreamWorkerData), port: parentPort! as unknown as MessagePort }).catch(() => {})
}
