import { Readable } from 'node:stream'
import { loadavg } from 'node:os'
import { Client } from 'undici'
import { ipcParts } from './lib/data.ts'
import { launchGateway, Scope, stopGateway } from './lib/gateway.ts'
import { CpuMeter, RssSampler } from './lib/proc.ts'
import { log, MiB, type BenchResult } from './lib/table.ts'
import type { BenchOptions } from './throughput.ts'

const GiB = 1024 * MiB
const TARGET_RSS = 400 * MiB
/** Beyond this the request is aborted to protect the machine; the figure still shows the failure. */
const SAFETY_RSS = 12 * GiB
/** Keeps the suite under 10 minutes on a slow or busy machine; an aborted run is reported as such. */
const MAX_SECONDS = 120

/**
 * Memory: one request whose body is a 4 GiB Arrow stream generated on the fly (one 200k-row
 * batch message repeated, never materialised), durable ack, gateway RSS sampled every 50 ms.
 */
export async function memory (opts: BenchOptions): Promise<BenchResult> {
  const notes: string[] = [`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`]
  const figures: BenchResult['figures'] = []
  const scope = new Scope()
  const size = opts.quick ? 1 * GiB : 4 * GiB
  try {
    const gw = await launchGateway(scope, { MAX_REQUEST_BYTES: String(size + GiB) })
    const parts = ipcParts(200_000, 11)
    const batches = Math.ceil((size - parts.schema.byteLength - parts.eos.byteLength) / parts.batch.byteLength)
    const bytes = parts.schema.byteLength + batches * parts.batch.byteLength + parts.eos.byteLength
    const rss = new RssSampler(gw.proc.pid!, 50).start()
    const cpu = new CpuMeter(gw.proc.pid!).start()
    const ac = new AbortController()
    let sent = 0
    let aborted = ''
    const started = performance.now()
    const limitS = opts.quick ? 120 : MAX_SECONDS
    const guard = setInterval(() => {
      if (aborted) return
      if (rss.last > SAFETY_RSS) aborted = `aborted at ${(sent / GiB).toFixed(2)} GiB sent: gateway RSS ${(rss.last / GiB).toFixed(1)} GiB over the ${SAFETY_RSS / GiB} GiB safety limit`
      else if (performance.now() - started > limitS * 1000) aborted = `aborted at ${(sent / GiB).toFixed(2)} GiB sent: no answer within the ${limitS} s time limit`
      if (aborted) ac.abort()
    }, 100)
    const progress = setInterval(() => log(`memory: ${(sent / GiB).toFixed(2)} GiB sent, gateway RSS ${(rss.last / MiB).toFixed(0)} MiB (peak ${(rss.peak / MiB).toFixed(0)})`), 5000)
    async function * body (): AsyncGenerator<Uint8Array> {
      yield parts.schema
      for (let i = 0; i < batches; i++) {
        sent += parts.batch.byteLength
        yield parts.batch
      }
      yield parts.eos
    }
    log(`memory: one ${(bytes / GiB).toFixed(2)} GiB request (${batches} × 200k-row batches), ack=durable`)
    const client = new Client(gw.url, { headersTimeout: 600_000, bodyTimeout: 600_000 })
    const t0 = performance.now()
    let status = 0
    let answer = ''
    try {
      const r = await client.request({
        method: 'POST',
        path: '/v1/topics/bench_memory/records?ack=durable',
        headers: { authorization: `Bearer ${gw.token(['write'])}`, 'content-type': 'application/vnd.apache.arrow.stream', 'content-length': String(bytes) },
        body: Readable.from(body(), { objectMode: false }),
        signal: ac.signal
      })
      status = r.statusCode
      answer = await r.body.text()
    } catch (err) {
      answer = aborted || (err as Error).message
    } finally {
      clearInterval(guard)
      clearInterval(progress)
      await client.close().catch(() => {})
    }
    const seconds = (performance.now() - t0) / 1000
    const c = cpu.stop()
    await new Promise((resolve) => setTimeout(resolve, 500))
    rss.stop()
    const rows = status === 200 ? (JSON.parse(answer) as { rows: number }).rows : 0
    figures.push(
      { name: 'request body', value: bytes / GiB, unit: 'GiB' },
      { name: 'answer', value: status === 0 ? 'none (aborted)' : String(status) },
      { name: 'body sent before the answer', value: sent / GiB, unit: 'GiB' },
      { name: 'rows acknowledged durable', value: rows, unit: 'rows', target: (batches * 200_000).toLocaleString('en-US'), pass: rows === batches * 200_000 },
      { name: 'gateway RSS peak', value: rss.peak / MiB, unit: 'MiB', target: '≤ 400 MiB', pass: rss.peak <= TARGET_RSS && status === 200 },
      { name: 'gateway RSS at the end', value: rss.last / MiB, unit: 'MiB' },
      { name: 'throughput', value: sent / MiB / seconds, unit: 'MiB/s' },
      { name: 'gateway CPU', value: c.gatewayCores, unit: 'cores' }
    )
    if (status !== 200) {
      notes.push(`answer: ${answer.slice(0, 300)}`)
      const logged = gw.stderr().split('\n').filter((l) => l.includes('"level":50') || l.includes('Error')).slice(-2)
      for (const l of logged) notes.push(`gateway log: ${l.replace(/eyJ[\w.-]+/g, '[token]').slice(0, 400)}`)
    }
    const q = (p: number) => rss.samples[Math.min(rss.samples.length - 1, Math.floor(p * rss.samples.length))]?.rss ?? 0
    notes.push(`RSS over time (MiB) at 10/25/50/75/90 %: ${[0.1, 0.25, 0.5, 0.75, 0.9].map((p) => (q(p) / MiB).toFixed(0)).join(' / ')}; ${rss.samples.length} samples`)
    if (opts.quick) notes.push('--quick: 1 GiB body instead of 4 GiB')
    await stopGateway(gw)
  } catch (err) {
    figures.push({ name: 'run', value: 'crashed', pass: false })
    notes.push((err as Error).message.split('\n').slice(0, 4).join(' / '))
  } finally {
    await scope.close()
  }
  return { bench: 'memory (one 4 GiB streamed request)', figures, notes }
}
