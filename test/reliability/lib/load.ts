import { request, Agent } from 'undici'
import { makeIpcStream } from '../../helpers/arrow.ts'

export interface Ack { client: number, start: number, rows: number }

/**
 * A producer posting Arrow streams with durable acks in a loop until stopped; each request's ids
 * are start … start+rows-1 (unique across clients and cycles). Records what was acknowledged,
 * and every answer that was neither an ack nor a dropped connection.
 */
export function startProducer (url: string, token: string, topic: string, client: number, idBase: number, rowsPerRequest = 50) {
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
        // The gateway died under us: this request is unacknowledged. Kept on purpose: a client's
        // retry pace. (Waiting instead until the gateway accepts connections again made the
        // shutdown test's gateway miss its 20 s deadline in every run, with every row stored.)
        await new Promise((resolve) => setTimeout(resolve, 50))
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
