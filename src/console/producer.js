import { IngestConnection } from './connection.js'
import { generatedBatch, ipcSlices } from './arrow-data.js'

// The page never queues more than this many unacked messages: the gateway paces us through acks.
const MAX_INFLIGHT = 16

/**
 * Streams to one topic over a `quiver.v1` WebSocket, either generated rows at a target rate or
 * the slices of an uploaded file. Re-emits the connection's 'ack' / 'error' events and 'state'.
 */
export class Producer extends EventTarget {
  constructor () {
    super()
    this.conn = null
    this.timer = null
    this.nextId = 1
  }

  get inflight () { return this.conn?.inflight ?? 0 }
  get busy () { return this.conn !== null }

  async #connect (topic, token) {
    const conn = new IngestConnection(topic, token)
    for (const type of ['ack', 'error']) conn.addEventListener(type, (ev) => this.#emit(type, ev.detail))
    conn.addEventListener('close', (ev) => {
      if (this.conn === conn) this.#finish(ev.detail.code === 1000 ? 'idle' : 'closed', ev.detail)
    })
    this.conn = conn
    this.#emit('state', { state: 'connecting' })
    try {
      await conn.opened
    } catch (err) {
      this.conn = null
      this.#emit('state', { state: 'failed', message: err.message })
      throw err
    }
    this.#emit('state', { state: 'streaming' })
    return conn
  }

  async startGenerating (topic, token, { rate, mps }) {
    const conn = await this.#connect(topic, token)
    const perTick = Math.max(1, Math.round(rate / mps))
    this.timer = setInterval(() => {
      // Falling behind shows up as a lower rows/s in the chart instead of an unbounded send queue.
      if (!conn.open || conn.inflight >= MAX_INFLIGHT) return
      conn.send(generatedBatch(this.nextId, perTick), perTick)
      this.nextId += perTick
    }, 1000 / mps)
  }

  /**
   * Sends `table` in slices of `rowsPer` rows, at most MAX_INFLIGHT unacked, then drains and
   * closes; `keyOf(i)`, when given, is the idempotency key of slice i. Resolves with what the
   * gateway answered: `{ messages, answered, acked, replayed, rejected }` (messages sent, acks
   * plus errors received, rows acked, messages stored before and replayed, messages rejected).
   */
  async sendFile (topic, token, table, rowsPer, onProgress, keyOf) {
    const conn = await this.#connect(topic, token)
    const result = { messages: 0, answered: 0, acked: 0, replayed: 0, rejected: 0 }
    conn.addEventListener('ack', ({ detail }) => {
      result.answered++
      result.acked += detail.rows
      if (detail.replayed === true) result.replayed++
    })
    conn.addEventListener('error', () => { result.answered++; result.rejected++ })
    let sent = 0
    for (const { ipc, rows } of ipcSlices(table, rowsPer)) {
      await conn.below(MAX_INFLIGHT)
      if (!conn.open) break
      conn.send(ipc, rows, keyOf?.(result.messages))
      result.messages++
      sent += rows
      onProgress(sent / table.numRows)
    }
    await this.stop()
    return result
  }

  /** Stops sending, waits for the outstanding acks, then closes the socket. */
  async stop () {
    clearInterval(this.timer)
    this.timer = null
    const conn = this.conn
    if (!conn) return
    this.#emit('state', { state: 'draining' })
    await conn.drained()
    conn.close()
  }

  #finish (state, detail) {
    clearInterval(this.timer)
    this.timer = null
    this.conn = null
    this.#emit('state', { state, ...detail })
  }

  #emit (type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })) }
}
