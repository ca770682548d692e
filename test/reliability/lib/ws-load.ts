import type WebSocket from 'ws'
import { makeIpcStream } from '../../helpers/arrow.ts'
import { connect } from '../../helpers/ws-client.ts'
import type { Ack } from './load.ts'

/** Error codes a healthy producer may see and simply not count as acked (the HTTP producer's 503s). */
const TRANSIENT = new Set(['QUIVER_OVERLOADED', 'QUIVER_STORAGE_UNAVAILABLE', 'QUIVER_SHUTTING_DOWN'])

/**
 * A producer streaming over the WebSocket route: up to `window` messages in flight on one
 * connection, each an Arrow stream of ids start … start+rows-1 (unique across clients and cycles),
 * reconnecting when the connection drops until stopped. An ack counts only for the message whose
 * sequence number it carries; acks out of order, for unknown messages or with the wrong row count,
 * and error frames other than back-off codes, are recorded as odd.
 */
export function startWsProducer (url: string, token: string, topic: string, client: number, idBase: number, rowsPerMessage = 50, window = 4) {
  const acks: Ack[] = []
  const odd: string[] = []
  const state = { stopped: false, socket: null as WebSocket | null }
  let next = 0
  const wsUrl = `${url.replace(/^http/, 'ws')}/v1/topics/${topic}/stream`

  function session (ws: WebSocket): Promise<void> {
    const inflight = new Map<number, number>() // sequence number on this connection → first id
    let sent = 0
    let answered = 0
    const pump = () => {
      while (!state.stopped && inflight.size < window && ws.readyState === ws.OPEN) {
        const start = idBase + next++ * rowsPerMessage
        inflight.set(++sent, start)
        ws.send(makeIpcStream(rowsPerMessage, { start }))
      }
    }
    ws.on('message', (data, isBinary) => {
      if (isBinary) { odd.push(`client ${client}: binary frame`); return }
      const f = JSON.parse(data.toString()) as { type: string, seq: number, rows?: number, code?: string, message?: string }
      const start = inflight.get(f.seq)
      if (start === undefined || f.seq !== answered + 1) odd.push(`client ${client}: ${f.type} for seq ${f.seq} after ${answered}`)
      answered = f.seq
      inflight.delete(f.seq)
      if (f.type === 'ack' && start !== undefined) {
        if (f.rows !== rowsPerMessage) odd.push(`client ${client}: ack of ${f.rows} rows for ${rowsPerMessage}`)
        acks.push({ client, start, rows: rowsPerMessage })
      } else if (f.type !== 'ack' && !TRANSIENT.has(f.code ?? '')) {
        odd.push(`client ${client}: ${f.type} ${f.code} ${f.message}`)
      }
      pump()
    })
    ws.on('error', () => {})
    return new Promise((resolve) => {
      ws.once('close', () => resolve())
      pump()
    })
  }

  const done = (async () => {
    while (!state.stopped) {
      try {
        state.socket = await connect(wsUrl, ['quiver.v1'], { authorization: `Bearer ${token}` })
      } catch {
        // The gateway is down (killed) or not up yet.
        await new Promise((resolve) => setTimeout(resolve, 50))
        continue
      }
      if (state.stopped) { state.socket.terminate(); break }
      await session(state.socket)
      state.socket = null
    }
  })()
  return {
    acks,
    odd,
    /** Messages sent so far. */
    sent: () => next,
    async stop () {
      state.stopped = true
      state.socket?.terminate()
      await done
    }
  }
}
