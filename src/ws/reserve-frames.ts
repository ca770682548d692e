import type { WebSocket } from 'ws'
import type { Reservation } from '../ingest/admission.ts'

/** ws receiver states (lib/receiver.js): after a frame's length, its mask or its data is read next. */
const GET_MASK = 3
const GET_DATA = 4
/** The state ws itself parks its loop in while an event is deferred: the loop stops, its write callback held. */
const DEFER_EVENT = 6

interface Receiver {
  _payloadLength: number
  _opcode: number
  _errored: boolean
  _state: number
  haveLength: (cb: (err?: Error) => void) => void
  startLoop: (cb: (err?: Error) => void) => void
}

/**
 * MAX_BUFFERED_BYTES for WebSocket messages, taken before their bytes are read (CONTRACT §13). ws
 * assembles a whole message before the session sees it: sockets paused only after that held
 * sockets × WS_MAX_MESSAGE_BYTES between them (16 producers of 40 MiB messages: 587 MB reserved
 * at a 64 MiB budget, 1.4 GiB RSS). Here each data frame's payload is reserved as soon as its
 * header names its length; when it does not fit, ws's receiver is parked the way ws parks it to
 * defer an event (its write callback held, so ws pauses the socket) and resumes once `reserve`
 * resolves. `onFrame` gets each reservation (the session releases them once the message they
 * carried has joined the pipeline or failed).
 *
 * `_receiver`, `haveLength`, `startLoop` and the receiver's state numbers are ws internals (ws
 * pinned exactly; test/ws/frame-reservation.test.ts fails without them). Returns false, changing nothing, when they
 * moved: messages are then counted once ws delivers them, as before.
 */
export function reserveFrames (socket: WebSocket, reserve: (n: number, now: boolean) => Reservation | Promise<Reservation>, onFrame: (r: Reservation) => void): boolean {
  const receiver = (socket as unknown as { _receiver?: Receiver })._receiver
  if (receiver === undefined || typeof receiver.haveLength !== 'function' || typeof receiver.startLoop !== 'function' || typeof receiver._state !== 'number') return false
  const haveLength = receiver.haveLength
  receiver.haveLength = function (this: Receiver, cb) {
    haveLength.call(this, cb)
    // control frames (opcode 8 and up) are small and never held; a refused length has errored
    if (this._errored || this._opcode >= 0x08 || this._payloadLength === 0 || (this._state !== GET_MASK && this._state !== GET_DATA)) return
    // A continuation frame (opcode 0) belongs to a message already admitted: taken at once.
    const got = reserve(this._payloadLength, this._opcode === 0)
    if (!(got instanceof Promise)) {
      onFrame(got)
      return
    }
    const next = this._state
    this._state = DEFER_EVENT
    got.then((r) => {
      onFrame(r)
      if (socket.readyState !== socket.OPEN && socket.readyState !== socket.CLOSING) return
      this._state = next
      this.startLoop(cb)
    }, (err: Error) => cb(err))
  }
  return true
}
