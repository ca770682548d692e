import { connect } from 'node:net'
import { request, Agent } from 'undici'
import { makeIpcStream } from '../../helpers/arrow.ts'

export interface Ack { client: number, start: number, rows: number }

/**
 * What a producer does after a dropped connection: 'pace' tries again 50 ms later; 'await-gateway'
 * first waits until the gateway accepts a TCP connection again, as a client that checks the
 * service before retrying does.
 */
export type RetryMode = 'pace' | 'await-gateway'

/**
 * A producer posting Arrow streams with durable acks in a loop until stopped; each request's ids
 * are start … start+rows-1 (unique across clients and cycles). Records what was acknowledged,
 * and every answer that was neither an ack nor a dropped connection.
 */
export function startProducer (url: string, token: string, topic: string, client: number, idBase: number, rowsPerRequest = 50, retry: RetryMode = 'pace') {
  const acks: Ack[] = []
  const odd: string[] = []
  const state = { stopped: false }
  let seq = 0
  const dispatcher = new Agent({ keepAliveTimeout: 1000, headersTimeout: 60_000, bodyTimeout: 60_000 })
  const done = (async () => {
    while (!state.stopped) {
      const start = idBase + seq++ * rowsPerRequest
      try {
        const res = await request(`${url}/v1/topics/${topic}/records?ack=durable`, {
          method: 'POST',
          dispatcher,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.apache.arrow.stream' },
          body: Buffer.from(makeIpcStream(rowsPerRequest, { start }))
        })
        const text = await res.body.text()
        if (res.statusCode === 200) {
          const body = JSON.parse(text) as { rows: number }
          if (body.rows !== rowsPerRequest) odd.push(`ack of ${body.rows} rows for ${rowsPerRequest}`)
          acks.push({ client, start, rows: rowsPerRequest })
        } else if (res.statusCode !== 503) {
          odd.push(`${res.statusCode} ${text.slice(0, 200)}`)
        } else {
          // Kept on purpose: a client backing off after 503, as a real one does; time passing is the point.
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      } catch {
        // The gateway died under us: this request is unacknowledged. The sleeps are kept on
        // purpose: a client's retry pace.
        if (retry === 'await-gateway') await untilAccepting(url, state)
        else await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    await dispatcher.close().catch(() => {})
  })()
  return {
    acks,
    odd,
    sent: () => seq,
    async stop () { state.stopped = true; await done }
  }
}

/**
 * Resolves once a TCP connection to `url` is accepted (or the producer is stopped). Meanwhile the
 * producer sends nothing, so a keep-alive connection it still holds just sits idle.
 */
async function untilAccepting (url: string, state: { stopped: boolean }): Promise<void> {
  const { hostname, port } = new URL(url)
  while (!state.stopped) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(Number(port), hostname)
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 50)) // the client's polling pace
  }
}
