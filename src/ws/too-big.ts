import type { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'

/** ws's error codes for a message over maxPayload (ws doc/ws.md, "Error codes"); both mean close 1009. */
const TOO_BIG = new Set(['WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH'])

type Listener = (this: unknown, err: Error & { code?: string }) => void

/**
 * ws refuses a message over maxPayload from its frame header (its payload is never buffered, which
 * is why the limit stays ws's), but then closes the socket at once, and @fastify/websocket
 * terminates it on the 'error' that follows: the answers to earlier messages that were not durable
 * yet are never sent, and the producer resends messages that are stored already.
 *
 * This takes that one error over from ws's receiver: no 'error' is emitted, the socket no longer
 * feeds the receiver and is not read any further (TCP pushes back on the producer while earlier
 * messages are answered), and `onTooBig` closes when it is ready, then calls `readRest`: the rest
 * of the message is read and dropped as it arrives, and the peer's close is seen (as ws does after
 * its own close; `socket.close()` ends the TCP connection at once, as the receiver has failed).
 * Any other receiver error keeps ws's handling.
 *
 * `_receiver`, `_socket` and the name of ws's 'data' listener on the latter are ws internals (ws
 * pinned exactly; test/ws/too-big.test.ts). Returns false, changing nothing, when they moved: an
 * oversize message then still closes with 1009, only without the earlier answers.
 */
export function answerBeforeTooBig (socket: WebSocket, onTooBig: (readRest: () => void) => void): boolean {
  const { _receiver: receiver, _socket: raw } = socket as unknown as { _receiver?: EventEmitter, _socket?: Socket }
  if (typeof receiver?.listeners !== 'function' || typeof raw?.listeners !== 'function') return false
  const wsOnError = receiver.listeners('error') as Listener[]
  const feed = raw.listeners('data').filter((listener) => listener.name === 'socketOnData')
  if (wsOnError.length !== 1 || feed.length !== 1) return false

  receiver.removeListener('error', wsOnError[0])
  receiver.on('error', function (this: unknown, err: Error & { code?: string }) {
    if (!TOO_BIG.has(err.code ?? '') || socket.readyState !== socket.OPEN) {
      wsOnError[0].call(this, err)
      return
    }
    raw.removeListener('data', feed[0] as (chunk: Buffer) => void)
    raw.pause()
    onTooBig(() => raw.resume())
  })
  return true
}
