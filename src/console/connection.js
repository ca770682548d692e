import { openSocket } from './api.js'

/**
 * One `quiver.v1` ingest connection: sends Arrow IPC streams, matches the in-order acks to what
 * was sent, and reports them as events ('ack', 'error', 'close').
 */
export class IngestConnection extends EventTarget {
  constructor (topic, token) {
    super()
    this.pending = new Map()
    this.seq = 0
    this.ws = openSocket(`/v1/topics/${encodeURIComponent(topic)}/stream`, token)
    this.ws.onmessage = (ev) => this.#onFrame(ev.data)
    this.ws.onclose = (ev) => {
      this.dispatchEvent(new CustomEvent('close', { detail: { code: ev.code, reason: ev.reason, lost: this.pending.size } }))
      this.#wake()
    }
    this.opened = new Promise((resolve, reject) => {
      this.ws.onopen = () => resolve()
      this.ws.onerror = () => reject(new Error('WebSocket connection failed (token, role or topic?)'))
    })
    this.waiters = []
  }

  get inflight () { return this.pending.size }
  get open () { return this.ws.readyState === WebSocket.OPEN }

  /**
   * Sends one message; with `key`, a text frame announces it first (README "Exactly-once over
   * WebSocket"): a resend of a stored message is acked with `replayed: true`, not stored again.
   */
  send (ipc, rows, key) {
    const seq = ++this.seq
    this.pending.set(seq, { rows, bytes: ipc.byteLength })
    if (key !== undefined) this.ws.send(JSON.stringify({ type: 'key', key }))
    this.ws.send(ipc)
    return seq
  }

  /** Resolves once fewer than `limit` messages await their ack (or the socket closed). */
  async below (limit) {
    while (this.open && this.pending.size >= limit) await new Promise((resolve) => this.waiters.push(resolve))
  }

  /** Resolves when every sent message was answered (or the socket closed). */
  drained () { return this.below(1) }

  close () {
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000, 'done')
  }

  #onFrame (data) {
    if (typeof data !== 'string') return
    const frame = JSON.parse(data)
    const sent = this.pending.get(frame.seq)
    this.pending.delete(frame.seq)
    const detail = { ...frame, bytes: sent?.bytes ?? 0, sentRows: sent?.rows ?? 0 }
    this.dispatchEvent(new CustomEvent(frame.type, { detail }))
    this.#wake()
  }

  #wake () {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }
}
