import { Readable } from 'node:stream'
import { Client } from 'undici'
import { launchShipped, type ShippedGateway } from './shipped.ts'
import type { Scope } from './gateway.ts'
import { CpuMeter, RssSampler } from './proc.ts'
import { Producer, openMany } from './ws-producer.ts'
import type { RecordBatch } from 'apache-arrow'
import { ipcOf, userBatch, wideBatch } from './user-data.ts'
import { MiB, percentile } from './table.ts'
import { waitFor } from '../../helpers/wait.ts'

export interface Cell { mibPerS: number, rowsPerS: number, p50: number, p99: number, cores: number, rssPeak: number, errors: number, lastError: string }

export async function adminFlush (gw: ShippedGateway): Promise<void> {
  const r = await fetch(`${gw.url}/v1/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${gw.token(['admin'])}` } })
  if (r.status !== 200) throw new Error(`admin flush: ${r.status} ${await r.text()}`)
}

/**
 * Producers per principal in the WebSocket case. WS_MAX_CONNECTIONS_PER_SUB (default 100) bounds
 * one principal's sockets; 200 writers are a fleet of services, each with its own identity, so
 * the bench spreads them over 200 / 50 = 4 principals and leaves the limit at its default.
 */
export const WS_PER_PRINCIPAL = 50

/**
 * Write tokens for `n` producers, WS_PER_PRINCIPAL per principal (`${prefix}-0`, `${prefix}-1`, …):
 * `tokens[i]` is producer i's, `principals` how many identities they are.
 */
export function writerTokens (gw: { token: (roles: ['write'], subject: string) => string }, n: number, prefix: string): { tokens: string[], principals: number } {
  const principals = Math.ceil(n / WS_PER_PRINCIPAL)
  const own = Array.from({ length: principals }, (_, i) => gw.token(['write'], `${prefix}-${i}`))
  return { tokens: Array.from({ length: n }, (_, i) => own[Math.floor(i / WS_PER_PRINCIPAL)]), principals }
}

/** 200 WebSocket producers, 1,000-row messages, `inFlight` (4) in flight each, default flush interval. */
export async function smallWriters (scope: Scope, seconds: number, inFlight = 4): Promise<Cell & { flushMs: number, principals: number }> {
  const gw = await launchShipped(scope, {})
  const msg = ipcOf([userBatch(1000, 3)])
  const n = 200
  const { tokens, principals } = writerTokens(gw, n, 'bench-ws')
  const { open, failed, firstError } = await openMany((i) => new Producer(`${gw.url.replace('http:', 'ws:')}/v1/topics/small/stream`, tokens[i]), n, 50, 60_000)
  if (failed > 0) throw new Error(`${failed} producers failed to open: ${firstError}`)
  // One message first: 200 first writers racing the topic's auto-creation measured ~10 s of
  // creation retries at load 15, not the steady state.
  open[0].send(msg)
  await waitFor(() => open[0].stats.acked + open[0].stats.errors > 0, 'an answer to the first message', { timeoutMs: 60_000, everyMs: 20 })
  let sending = true
  for (const p of open) p.onAck = (q) => { if (sending && q.inflight < inFlight) q.send(msg) }
  for (const p of open) for (let i = 0; i < inFlight; i++) p.send(msg)
  // Warm-up: until every producer has been answered once (all sockets in their steady loop).
  await waitFor(() => open.every((p) => p.stats.acked + p.stats.errors > 1), 'an answer to every producer', { timeoutMs: 60_000, everyMs: 20 })
  for (const p of open) { p.stats.latenciesMs = []; p.recordLatency = true }
  const acked0 = open.reduce((k, p) => k + p.stats.ackedRows, 0)
  const rss = new RssSampler(gw.pid, 50).start()
  const cpu = new CpuMeter(gw.pid).start()
  const t0 = performance.now()
  // The measuring window itself: the producers run on their own while it lasts.
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const s = (performance.now() - t0) / 1000
  const rows = open.reduce((k, p) => k + p.stats.ackedRows, 0) - acked0
  const c = cpu.stop()
  rss.stop()
  sending = false
  const lat = open.flatMap((p) => p.stats.latenciesMs).sort((a, b) => a - b)
  const errors = open.reduce((k, p) => k + p.stats.errors, 0)
  for (const p of open) p.close()
  await gw.stop()
  return { mibPerS: rows * msg.byteLength / 1000 / MiB / s, rowsPerS: rows / s, p50: percentile(lat, 50), p99: percentile(lat, 99), cores: c.gatewayCores, rssPeak: rss.peak / MiB, errors, lastError: open.find((p) => p.lastError)?.lastError ?? '', flushMs: 1000, principals }
}

/**
 * One streamed body of `bytes` of `rowsPerBatch`-row batches, ack=accepted: the gateway's RSS
 * peak. `wide`: 80 columns (wideBatch) instead of the five user columns.
 */
export async function bigBody (scope: Scope, rowsPerBatch: number, bytes: number, wide = false): Promise<{ rssPeak: number, status: number, seconds: number, rows: number, cores: number, batchMiB: number }> {
  const gw = await launchShipped(scope, { MAX_REQUEST_BYTES: String(2 * 1024 * MiB) })
  const make = (): RecordBatch => wide ? wideBatch(rowsPerBatch) : userBatch(rowsPerBatch, 5)
  const first = make()
  const one = ipcOf([first])
  const two = ipcOf([first, first])
  const batchLen = two.byteLength - one.byteLength
  const schema = one.subarray(0, one.byteLength - batchLen - 8)
  const batch = one.subarray(schema.byteLength, schema.byteLength + batchLen)
  const n = Math.ceil(bytes / batchLen)
  async function * body (): AsyncGenerator<Uint8Array> {
    yield schema
    for (let i = 0; i < n; i++) yield batch
    yield one.subarray(one.byteLength - 8)
  }
  const rss = new RssSampler(gw.pid, 50).start()
  const cpu = new CpuMeter(gw.pid).start()
  const client = new Client(gw.url, { headersTimeout: 600_000, bodyTimeout: 600_000 })
  const t0 = performance.now()
  const r = await client.request({ method: 'POST', path: '/v1/topics/big/records?ack=accepted', headers: { authorization: `Bearer ${gw.token(['write'])}`, 'content-type': 'application/vnd.apache.arrow.stream' }, body: Readable.from(body(), { objectMode: false }) })
  const text = await r.body.text()
  await adminFlush(gw)
  const seconds = (performance.now() - t0) / 1000
  rss.stop()
  const { gatewayCores: cores } = cpu.stop()
  await client.close()
  await gw.stop()
  return { rssPeak: rss.peak / MiB, status: r.statusCode, seconds, rows: r.statusCode < 300 ? (JSON.parse(text) as { rows: number }).rows : 0, cores, batchMiB: batchLen / MiB }
}
