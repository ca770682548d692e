import { Agent, request } from 'undici'
import { authHeaders, type ApiClient } from './api.ts'
import { DeliveryError, describeErrorBody, isRetryableStatus, RETRYABLE_CODES } from './errors.ts'

export interface Ack {
  rows: number
  /** The gateway had stored this batch before (same idempotency key and bytes): nothing stored again. */
  replayed?: boolean
}

export interface Transport {
  /**
   * Delivers one Arrow IPC stream, with its idempotency key when given; resolves once the gateway
   * acknowledged it as durable.
   */
  send (ipc: Uint8Array, rows: number, key?: string): Promise<Ack>
  close (): Promise<void>
}

/**
 * One POST per chunk with `?ack=durable`, so a 200 means the rows are in a committed Parquet
 * object. Several chunks travel at once over a keep-alive pool; the caller bounds how many.
 */
export function createHttpTransport (api: ApiClient, topic: string, inflight: number): Transport {
  const agent = new Agent({ connections: inflight, headersTimeout: 300_000, bodyTimeout: 300_000, keepAliveTimeout: 30_000 })
  const url = new URL(`/v1/topics/${encodeURIComponent(topic)}/records?ack=durable`, api.url)
  return {
    async send (ipc, rows, key) {
      let res
      try {
        res = await request(url, {
          method: 'POST',
          headers: { ...authHeaders(api), 'content-type': 'application/vnd.apache.arrow.stream', ...(key === undefined ? {} : { 'idempotency-key': key }) },
          body: ipc,
          dispatcher: agent
        })
      } catch (err) {
        throw new DeliveryError(`POST ${url.pathname}: ${(err as Error).message}`, true)
      }
      const text = await res.body.text().catch(() => '')
      if (res.statusCode !== 200) {
        const { message, code } = describeErrorBody(res.statusCode, text)
        const retryAfter = Number(res.headers['retry-after'])
        const retryable = isRetryableStatus(res.statusCode) || (code !== undefined && RETRYABLE_CODES.has(code))
        throw new DeliveryError(`POST ${url.pathname}: ${message}`, retryable, Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined, code)
      }
      const body = JSON.parse(text) as { rows: number }
      if (body.rows !== rows) throw new DeliveryError(`the gateway acknowledged ${body.rows} rows of ${rows}`, false)
      return { rows: body.rows, replayed: res.headers['idempotent-replayed'] === 'true' }
    },
    async close () {
      await agent.close()
    }
  }
}
