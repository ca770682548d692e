import type { RecordBatch, Schema } from 'apache-arrow'
import type { WebSocket } from 'ws'
import { CLOSE } from './frames.ts'

/** Client frames a tail reader may send (it has nothing to say): larger ones close with 1009. */
export const TAIL_MAX_CLIENT_FRAME_BYTES = 4096
const MAX_TIMER_MS = 2 ** 31 - 1

export interface TailOptions {
  /** Registers the listener for every batch accepted from now on; returns the unsubscribe function. */
  subscribe: (listener: (batch: RecordBatch, schema: Schema, at: number) => void) => () => void
  /** One batch as a complete Arrow IPC stream (schema + batch), `at` its ingestion time. */
  encode: (batch: RecordBatch, schema: Schema, at: number) => Uint8Array
  /** Bytes queued for a reader before it counts as too slow. */
  maxBufferedBytes: number
  /** When the reader's token expires (ms since epoch): the socket then closes with 1008. */
  expiresAt?: number
}

/**
 * ws reads a frame whole (up to the server's maxPayload, 256 MiB for ingest) before handing it
 * over; the tail's own limit is set on this socket's frame parser so an oversized frame is refused
 * from its header, before its payload is buffered. ws exposes no per-socket option for it:
 * `_receiver._maxPayload` is its internal (ws 8, pinned; test/internals.test.ts), checked here so
 * a change fails closed.
 */
function limitClientFrames (socket: WebSocket, bytes: number): boolean {
  const receiver = (socket as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver
  if (!receiver || typeof receiver._maxPayload !== 'number') return false
  receiver._maxPayload = bytes
  return true
}

/**
 * Live tail of one topic. A reader that cannot keep up is closed with 1013 instead
 * of letting its send queue grow in gateway memory; it can reconnect and carry on from "now".
 */
export function startTail (socket: WebSocket, opts: TailOptions): void {
  if (!limitClientFrames(socket, TAIL_MAX_CLIENT_FRAME_BYTES)) {
    socket.close(1011, 'tail unavailable')
    return
  }
  let timer: NodeJS.Timeout | null = null
  let unsubscribe: (() => void) | null = opts.subscribe((batch, schema, at) => {
    if (socket.readyState !== 1) return
    if (socket.bufferedAmount > opts.maxBufferedBytes) {
      stop()
      socket.close(CLOSE.tryAgainLater, 'reader too slow')
      return
    }
    socket.send(opts.encode(batch, schema, at), { binary: true })
  })
  function stop (): void {
    unsubscribe?.()
    unsubscribe = null
    if (timer) clearTimeout(timer)
  }
  const arm = (at: number): void => {
    const delay = at - Date.now()
    timer = delay > MAX_TIMER_MS
      ? setTimeout(() => arm(at), MAX_TIMER_MS)
      : setTimeout(() => { stop(); socket.close(CLOSE.policyViolation, 'token expired') }, Math.max(0, delay))
    timer.unref()
  }
  if (opts.expiresAt !== undefined) arm(opts.expiresAt)
  socket.on('close', stop)
  // Tail is one-way; whatever small frames the client sends are ignored.
  socket.on('message', () => {})
}
