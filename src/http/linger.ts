import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'

export interface LingerOptions {
  /** Longest time the rest of a refused body is read and thrown away. */
  ms: number
  /** Most bytes of it read before giving up on the client. */
  bytes: number
}

const DEFAULT: LingerOptions = { ms: 2000, bytes: 16 * 1024 * 1024 }

/**
 * A request refused before its body was read (a 413 on its announced length, a 400 on its
 * schema) is answered with `connection: close`. Closing at once, with the client still sending,
 * makes the kernel answer its next bytes with a reset, and most clients then report EPIPE or
 * ECONNRESET instead of the answer they were sent. So, like nginx's lingering close: after the
 * answer, half-close (FIN) and keep reading and discarding for a bounded time and amount, then close.
 */
export function lingerBeforeClose (req: IncomingMessage, o: LingerOptions = DEFAULT): void {
  const socket = req.socket as Socket | null | undefined
  if (!socket || socket.destroyed) return
  const destroy = (): void => { if (!socket.destroyed) socket.destroy() }
  let read = 0
  // Node's HTTP server calls destroySoon() once a `connection: close` answer is written
  // (undocumented; test/internals.test.ts).
  socket.destroySoon = function (this: Socket) {
    if (this.writable) this.end()
    // A body parser that gave up left the request paused, and Node's parser pauses the socket
    // whenever the request's buffer is full: nothing more would be read, so neither the client's
    // FIN ('end') nor the byte limit would ever be seen, and the connection would stay open until
    // the timer (app.close() waiting on it). Node's own _dump() (what it does to requests nobody
    // read) makes its parser drop the body bytes; then the socket is read again.
    const dump = (req as IncomingMessage & { _dump?: () => void })._dump
    if (typeof dump === 'function') dump.call(req)
    this.resume()
    // The HTTP parser reads the handle itself (it consumes the socket's stream), so the stream
    // may already be "flowing" while the handle is stopped: start the handle, as Node's own
    // onSocketResume does.
    const handle = (this as unknown as { _handle?: { reading?: boolean, readStart?: () => number } })._handle
    if (handle?.reading === false && typeof handle.readStart === 'function') {
      handle.reading = true
      handle.readStart()
    }
    const timer = setTimeout(destroy, o.ms)
    timer.unref()
    this.once('close', () => clearTimeout(timer))
    this.once('end', destroy) // the client is done sending
  }
  socket.on('data', (chunk: Buffer) => {
    read += chunk.byteLength
    if (read > o.bytes) destroy()
  })
}
