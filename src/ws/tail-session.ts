import type { RecordBatch, Schema } from 'apache-arrow'
import type { WebSocket } from 'ws'
import { CLOSE } from './frames.ts'

export interface TailOptions {
  /** Registers the listener for every batch accepted from now on; returns the unsubscribe function. */
  subscribe: (listener: (batch: RecordBatch, schema: Schema) => void) => () => void
  /** One batch as a complete Arrow IPC stream (schema + batch). */
  encode: (batch: RecordBatch, schema: Schema) => Uint8Array
  /** Bytes queued for a reader before it counts as too slow. */
  maxBufferedBytes: number
}

/**
 * Live tail of one topic (CONTRACT §5). A reader that cannot keep up is closed with 1013 instead
 * of letting its send queue grow in gateway memory; it can reconnect and carry on from "now".
 */
export function startTail (socket: WebSocket, opts: TailOptions): void {
  let unsubscribe: (() => void) | null = opts.subscribe((batch, schema) => {
    if (socket.readyState !== 1) return
    if (socket.bufferedAmount > opts.maxBufferedBytes) {
      stop()
      socket.close(CLOSE.tryAgainLater, 'reader too slow')
      return
    }
    socket.send(opts.encode(batch, schema), { binary: true })
  })
  function stop (): void {
    unsubscribe?.()
    unsubscribe = null
  }
  socket.on('close', stop)
  // Tail is one-way; whatever the client sends is ignored rather than buffered.
  socket.on('message', () => {})
}
