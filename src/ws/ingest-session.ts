import type { WebSocket } from 'ws'
import type { IngestKey, Pipeline } from '../pipeline/types.ts'
import type { KeyedMessage } from '../ingest/keyed.ts'
import { TextFrameError } from '../errors.ts'
import { CLOSE, errorFrame, type Frame } from './frames.ts'
import { keyAnnouncement, type Announced } from './key-frame.ts'
import { answerBeforeTooBig } from './too-big.ts'
import { reserveFrames } from './reserve-frames.ts'
import type { Reservation } from '../ingest/admission.ts'
import type { DecodedMessage, PreparedMessage } from '../ingest/messages.ts'

export interface IngestSessionOptions {
  /** Decodes one message (runs concurrently for pipelined messages); throws Quiver errors. */
  decode: (bytes: Uint8Array) => Promise<DecodedMessage>
  /**
   * Resolves the topic and checks the message against it. Runs in sequence order, so the first
   * message auto-creates a topic even when a later one decoded faster.
   */
  accept: (msg: DecodedMessage) => Promise<PreparedMessage>
  pipeline: Pick<Pipeline, 'ingest' | 'hasCapacity' | 'waitForCapacity'>
  maxInflight: number
  /** Token expiry, ms since epoch: no new messages after it, then close 1008. */
  expiresAt?: number
  log: { debug: (obj: object, msg: string) => void, warn: (obj: object, msg: string) => void }
  /** Called each time the session stops reading the socket (backpressure). */
  onPause?: () => void
  /** How long a message may keep being refused for not fitting into the buffers' room (default 60 s). */
  overloadPatienceMs?: number
  /**
   * Counts a received message's bytes against the gateway's memory budget until it joined the
   * pipeline or failed (src/ingest/admission.ts); returns the release.
   */
  admit?: (bytes: number) => () => void
  /**
   * Reserves a frame's payload in that budget before ws reads it (src/ws/reserve-frames.ts): then
   * a message arrives already counted, and `admit` is not asked.
   */
  reserveFrame?: (bytes: number, now: boolean) => Reservation | Promise<Reservation>
  /**
   * A message holding reserved frames must arrive whole within this time of its first frame's
   * reservation (REQUEST_TIMEOUT_MS, as for an HTTP body); otherwise its reservations are given
   * back, the socket is no longer read, and it closes 1008 once earlier messages are answered.
   * Without it, a frame header declaring 255 MiB followed by silence held that much of
   * MAX_BUFFERED_BYTES for as long as the socket stayed open (two such sockets: every ingest 503).
   */
  messageTimeoutMs?: number
  /** Room in that budget: the socket is read only while there is some (default: the pipeline's capacity). */
  room?: { hasRoom: () => boolean, waitForRoom: () => Promise<void> }
  /** Maps a failure to the error the client sees (src/ingest/failure.ts), shared with the HTTP route. */
  failure?: (err: unknown) => { code: string, message: string }
  /**
   * Starts the keyed path of a message whose key the client announced (src/ingest/keyed.ts, the
   * HTTP path's); without it, key announcements are refused like any text frame.
   */
  keyed?: (key: string, bytes: Uint8Array) => KeyedMessage
}

interface Pending {
  seq: number
  frame: Frame | null
}

const MAX_TIMER_MS = 2 ** 31 - 1
const OVERLOAD_PATIENCE_MS = 60_000

/**
 * One `quiver.v1` ingest connection. Messages are decoded concurrently but join the
 * pipeline in sequence order; acks leave strictly in order. The socket stops being read while
 * WS_MAX_INFLIGHT messages wait or the pipeline is full, so TCP pushes back on the producer
 * instead of the gateway buffering without bound.
 */
export class IngestSession {
  readonly #socket: WebSocket
  readonly #opts: IngestSessionOptions
  readonly #pending: Pending[] = []
  #seq = 0
  #chain: Promise<void> = Promise.resolve()
  #paused = false
  #waitingCapacity = false
  /** A message is waiting for room in the pipeline: reading more would only pile up memory. */
  #starved = false
  #closing: { code: number, reason: string } | null = null
  #timer: NodeJS.Timeout | null = null
  #drained: (() => void) | null = null
  #corked = false
  /** The key announced for the next binary message (src/ws/key-frame.ts). */
  #announced: Announced | null = null
  /** After a message over WS_MAX_MESSAGE_BYTES: reads and drops the rest of it, once closing (src/ws/too-big.ts). */
  #readRest: (() => void) | null = null
  /** Reservations of the frames of the message being received (reserveFrame). */
  #incoming: Reservation[] = []
  #disposed = false
  /** Runs out when the message being received took messageTimeoutMs without arriving whole. */
  #messageTimer: NodeJS.Timeout | null = null
  /** Cut mid-message (too slow): what follows on the socket is the rest of a frame, never read. */
  #cut = false
  /**
   * Frames wait for room themselves (reserveFrame): the socket is then not paused for want of
   * room, which would stop a frame whose bytes are reserved already from ever arriving.
   */
  #framesReserved = false

  constructor (socket: WebSocket, opts: IngestSessionOptions) {
    this.#socket = socket
    this.#opts = opts
    socket.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary))
    socket.on('close', () => this.#dispose())
    if (opts.reserveFrame !== undefined) {
      const reserve = opts.reserveFrame
      const waiting = (bytes: number, now: boolean): Reservation | Promise<Reservation> => {
        const r = reserve(bytes, now)
        if (r instanceof Promise) {
          // the socket is not read until the frame fits: a pause like any other
          opts.onPause?.()
          opts.log.debug({ bytes, inflight: this.#pending.length }, 'websocket frame waits for room')
        }
        return r
      }
      this.#framesReserved = reserveFrames(socket, waiting, (r) => {
        if (this.#disposed || this.#cut) {
          r.release()
          return
        }
        this.#incoming.push(r)
        if (this.#messageTimer === null && opts.messageTimeoutMs !== undefined) {
          this.#messageTimer = setTimeout(() => this.#tooSlow(opts.messageTimeoutMs!), opts.messageTimeoutMs)
          this.#messageTimer.unref()
        }
      })
      if (!this.#framesReserved) opts.log.warn({}, 'ws internals moved: WebSocket messages are counted in MAX_BUFFERED_BYTES only once received')
    }
    if (opts.expiresAt !== undefined) this.#armExpiry(opts.expiresAt)
    // A message over WS_MAX_MESSAGE_BYTES is not accepted; the ones before it are still answered.
    const tooBig = answerBeforeTooBig(socket, (readRest) => {
      this.#readRest = readRest
      opts.log.debug({ inflight: this.#pending.length }, 'websocket message over WS_MAX_MESSAGE_BYTES: closing with 1009 once earlier messages are answered')
      this.finish(CLOSE.messageTooBig, 'message too big').catch(() => {})
    })
    if (!tooBig) opts.log.warn({}, 'ws internals moved: an oversize message closes with 1009 before earlier messages are answered')
  }

  get inflight (): number {
    return this.#pending.length
  }

  /** Stops reading, lets every accepted message be acked, then closes. Resolves once closed. */
  finish (code: number, reason: string): Promise<void> {
    if (!this.#closing) this.#closing = { code, reason }
    this.#updateFlow()
    return new Promise((resolve) => {
      if (this.#socket.readyState >= 2) return resolve()
      this.#socket.once('close', () => resolve())
      this.#maybeClose()
    })
  }

  #armExpiry (expiresAt: number): void {
    const delay = expiresAt - Date.now()
    if (delay > MAX_TIMER_MS) {
      this.#timer = setTimeout(() => this.#armExpiry(expiresAt), MAX_TIMER_MS)
    } else {
      this.#timer = setTimeout(() => { this.finish(1008, 'token expired').catch(() => {}) }, Math.max(0, delay))
    }
    this.#timer.unref()
  }

  /** The message being received did not arrive in time: its reservations go back now. */
  #tooSlow (ms: number): void {
    this.#messageTimer = null
    this.#cut = true
    for (const r of this.#incoming.splice(0)) r.release()
    this.#opts.log.debug({ ms, inflight: this.#pending.length }, 'websocket message not received within REQUEST_TIMEOUT_MS: closing')
    this.finish(CLOSE.policyViolation, `message not received within REQUEST_TIMEOUT_MS (${ms} ms)`).catch(() => {})
  }

  #onMessage (data: Buffer, isBinary: boolean): void {
    if (this.#messageTimer !== null) {
      clearTimeout(this.#messageTimer)
      this.#messageTimer = null
    }
    // The frames' reservations become the message's: released once it joined the pipeline or failed.
    const frames = this.#incoming.splice(0)
    const releaseFrames = (): void => { for (const r of frames) r.release() }
    if (!isBinary && this.#opts.keyed !== undefined) {
      // Not a message: it names the next one's key (the latest announcement wins), no seq, no answer.
      const announced = keyAnnouncement(data)
      if (announced !== undefined) {
        releaseFrames()
        this.#announced = announced
        return
      }
    }
    const announced = isBinary ? this.#announced : null
    if (isBinary) this.#announced = null
    // Only binary messages are numbered (README "WebSocket ingest"): a text frame's answer still
    // leaves in order, with seq 0, which names no message.
    const seq = isBinary ? ++this.#seq : 0
    const entry: Pending = { seq, frame: null }
    this.#pending.push(entry)
    if (this.#closing) {
      // Already read from the socket before the pause took effect: refuse it explicitly, never silently.
      const code = this.#closing.code === CLOSE.policyViolation
        ? 'QUIVER_UNAUTHORIZED'
        : this.#closing.code === CLOSE.tryAgainLater ? 'QUIVER_AUTH_UNAVAILABLE' : 'QUIVER_SHUTTING_DOWN'
      releaseFrames()
      this.#settle(entry, errorFrame(seq, code, `Message not accepted: ${this.#closing.reason}`))
      return
    }
    if (!isBinary) {
      releaseFrames()
      this.#settle(entry, this.#errorFor(seq, new TextFrameError()))
      return
    }
    if (announced !== null && 'error' in announced) {
      releaseFrames()
      this.#settle(entry, this.#errorFor(seq, announced.error))
      return
    }
    const release = frames.length > 0 ? releaseFrames : (this.#opts.admit?.(data.byteLength) ?? (() => {}))
    this.#updateFlow()
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    const decoded = this.#opts.decode(bytes)
    decoded.catch(() => {})
    if (announced !== null) {
      this.#keyedMessage(entry, this.#opts.keyed!(announced.key, bytes), decoded, release)
      return
    }
    // Topic resolution and the pipeline see messages in sequence order; durability is awaited
    // outside the chain so later messages can be staged meanwhile.
    const staged = this.#chain.then(async () => {
      const msg = await this.#opts.accept(await decoded)
      return { msg, durable: this.#ingest(msg, release) }
    })
    staged.catch(release)
    // The chain must not hold the message itself: its settled value would keep the decoded batches
    // (and ws's message buffer under them) alive until the next message, long after the
    // pipeline released their bytes (16 parked producers of 40 MiB messages: 640 MiB uncounted).
    this.#chain = staged.then(() => {}, () => {})
    staged
      .then(async ({ msg, durable }) => {
        await durable
        this.#settle(entry, { type: 'ack', seq, rows: msg.rows })
      })
      .catch((err: unknown) => this.#settle(entry, this.#errorFor(seq, err)))
  }

  /**
   * A message with its key: claimed already (in sequence order), then run in the session's order
   * like any message; a replay is answered without being decoded into the topic again. The next
   * message may go on once this one joined the pipeline or was answered.
   */
  #keyedMessage (entry: Pending, run: KeyedMessage, decoded: Promise<DecodedMessage>, release: () => void): void {
    const previous = this.#chain
    let joined!: () => void
    this.#chain = new Promise<void>((resolve) => { joined = resolve })
    const outcome = previous.then(async () => await run(async (plan) => {
      const msg = await this.#opts.accept(await decoded)
      const durable = this.#ingest(msg, release, plan)
      joined()
      await durable
      return { topic: msg.topic.name, rows: msg.rows, batches: msg.batches.length, bytes: msg.bytes, ack: 'durable' as const }
    }))
    outcome.then(joined, joined)
    outcome.then(release, release)
    outcome
      .then((out) => this.#settle(entry, out.replayed ? { type: 'ack', seq: entry.seq, rows: out.body.rows, replayed: true } : { type: 'ack', seq: entry.seq, rows: out.body.rows }))
      .catch((err: unknown) => this.#settle(entry, this.#errorFor(entry.seq, err)))
  }

  /**
   * Waits for room in the pipeline rather than failing the message: backpressure, not loss.
   * "Has capacity" can still be too little for this message, so an overloaded ingest is retried
   * with backoff; only a message that never fits (e.g. larger than MAX_BUFFERED_BYTES) fails.
   */
  async #ingest (msg: PreparedMessage, release: () => void, key?: IngestKey): Promise<unknown> {
    const patience = this.#opts.overloadPatienceMs ?? OVERLOAD_PATIENCE_MS
    let giveUpAt = Date.now() + patience
    try {
      for (let attempt = 0; ; attempt++) {
        if (!this.#opts.pipeline.hasCapacity()) {
          while (!this.#opts.pipeline.hasCapacity()) await this.#opts.pipeline.waitForCapacity()
          // Time spent while the buffers were full (slow storage) is backpressure, not this message
          // failing to fit: counting it would fail messages after a long enough storage slowdown.
          giveUpAt = Date.now() + patience
        }
        try {
          // The pipeline counts the rows as buffered before ingest() first awaits: the
          // message's reservation hands over to that count.
          const done = this.#opts.pipeline.ingest(msg.topic, msg.batches, { ack: 'durable', bytes: msg.bytes, key })
          release()
          return await done
        } catch (err) {
          if ((err as { code?: string }).code !== 'QUIVER_OVERLOADED' || Date.now() > giveUpAt) throw err
          this.#starved = true
          this.#updateFlow()
          await new Promise((resolve) => setTimeout(resolve, Math.min(250, 5 * 2 ** attempt)))
        }
      }
    } finally {
      release()
      if (this.#starved) {
        this.#starved = false
        this.#updateFlow()
      }
    }
  }

  #errorFor (seq: number, failure: unknown): Frame {
    const err = this.#opts.failure?.(failure) ?? failure
    const e = err as { code?: string, message?: string, statusCode?: number }
    if (typeof e.code === 'string' && e.code.startsWith('QUIVER_') && e.code !== 'QUIVER_INTERNAL') {
      return errorFrame(seq, e.code, e.message ?? e.code)
    }
    this.#opts.log.warn({ err: failure, seq }, 'websocket message failed')
    return errorFrame(seq, 'QUIVER_INTERNAL', 'Internal server error')
  }

  #settle (entry: Pending, frame: Frame): void {
    entry.frame = frame
    while (this.#pending.length > 0 && this.#pending[0].frame !== null) {
      const done = this.#pending.shift() as Pending
      if (this.#socket.readyState === 1) this.#send(JSON.stringify(done.frame))
    }
    this.#updateFlow()
    this.#maybeClose()
  }

  /**
   * Frames sent in one turn of the event loop leave in one TCP write: a flush acks many messages
   * of a connection at once, and each write is a system call that also runs the loopback peer's
   * receive path (15 % of the event loop with 1,000 producers, one write per ack). ws's `_socket`
   * is internal (ws pinned; test/internals.test.ts).
   */
  #send (text: string): void {
    const raw = (this.#socket as unknown as { _socket?: { cork: () => void, uncork: () => void, destroyed: boolean } })._socket
    if (raw !== undefined && !this.#corked && !raw.destroyed) {
      this.#corked = true
      raw.cork()
      setImmediate(() => {
        this.#corked = false
        raw.uncork()
      })
    }
    this.#socket.send(text)
  }

  #updateFlow (): void {
    const capacity = this.#framesReserved || (this.#opts.room?.hasRoom() ?? this.#opts.pipeline.hasCapacity())
    const pause = this.#closing !== null || this.#starved || this.#pending.length >= this.#opts.maxInflight || !capacity
    if (pause && !this.#paused) {
      this.#paused = true
      this.#socket.pause()
      this.#opts.onPause?.()
      this.#opts.log.debug({ inflight: this.#pending.length, capacity }, 'websocket paused')
    } else if (!pause && this.#paused) {
      this.#paused = false
      this.#socket.resume()
      this.#opts.log.debug({ inflight: this.#pending.length }, 'websocket resumed')
    }
    if (!capacity && !this.#waitingCapacity && this.#closing === null) {
      this.#waitingCapacity = true
      ;(this.#opts.room?.waitForRoom() ?? this.#opts.pipeline.waitForCapacity()).then(() => {
        this.#waitingCapacity = false
        this.#updateFlow()
      }, () => { this.#waitingCapacity = false })
    }
  }

  #maybeClose (): void {
    if (this.#closing && this.#pending.length === 0 && this.#socket.readyState === 1) {
      if (this.#cut) {
        // Mid-frame: the peer's close frame would be read as that frame's payload, so nothing more
        // is read. The close frame goes out, then the end of the connection (ws would otherwise
        // wait 30 s for a close frame it can no longer read); ws's `_socket` is internal (see #send).
        this.#socket.close(this.#closing.code, this.#closing.reason)
        ;(this.#socket as unknown as { _socket?: { end: () => void } })._socket?.end()
        return
      }
      // The peer's close frame must be read for a clean closing handshake.
      this.#socket.resume()
      this.#socket.close(this.#closing.code, this.#closing.reason)
      this.#readRest?.()
    }
  }

  #dispose (): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    if (this.#messageTimer) clearTimeout(this.#messageTimer)
    this.#messageTimer = null
    // a message cut off by the close never arrives: its frames' reservations go now
    this.#disposed = true
    for (const r of this.#incoming.splice(0)) r.release()
  }
}
