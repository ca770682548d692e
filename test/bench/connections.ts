import { loadavg } from 'node:os'
import { ipcBatch } from './lib/data.ts'
import { launchGateway, scrape, Scope, sumMetric } from './lib/gateway.ts'
import { nofileLimit, rssOf, RssSampler } from './lib/proc.ts'
import { openMany, Producer } from './lib/ws-producer.ts'
import { log, MiB, type BenchResult } from './lib/table.ts'
import type { BenchOptions } from './throughput.ts'

const TARGET = 40_000
const SOURCES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']
const TOKENS = 200
const TOPICS = 10
const STREAM_EVERY = 40 // one producer in 40 streams while the rest are held open
const RSS_TARGET = 2 * 1024 * MiB

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Connections: open as many of 40,000 authenticated WebSocket ingest connections as possible
 * (source addresses 127.0.0.1–4 so no one address runs out of ephemeral ports), keep them open
 * while one in 40 streams 1,000-row messages, and report the gateway's RSS per connection.
 */
export async function connections (opts: BenchOptions): Promise<BenchResult> {
  const notes: string[] = [`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`]
  const figures: BenchResult['figures'] = []
  const scope = new Scope()
  const target = opts.quick ? 10_000 : TARGET
  let producers: Producer[] = []
  try {
    const limit = nofileLimit()
    notes.push(`open-file limit of the generator and the gateway: ${limit}`)
    const gw = await launchGateway(scope, {})
    const tokens = Array.from({ length: TOKENS }, (_, i) => gw.token(['write'], `conn-${i}`))
    const wsBase = gw.url.replace('http:', 'ws:')
    const rss = new RssSampler(gw.proc.pid!, 200).start()
    await sleep(500)
    const base = rssOf(gw.proc.pid!)
    log(`connections: opening ${target.toLocaleString('en-US')} (gateway RSS ${(base / MiB).toFixed(0)} MiB before)`)
    const t0 = performance.now()
    let opened = 0
    const progress = setInterval(() => log(`connections: ${opened.toLocaleString('en-US')} open, gateway RSS ${(rssOf(gw.proc.pid!) / MiB).toFixed(0)} MiB`), 10_000)
    const res = await openMany((i) => {
      const p = new Producer(`${wsBase}/v1/topics/bench_conn_${i % TOPICS}/stream`, tokens[i % TOKENS], SOURCES[i % SOURCES.length])
      opened++
      return p
    }, target, 256, opts.quick ? 60_000 : 180_000)
    clearInterval(progress)
    producers = res.open
    const openS = (performance.now() - t0) / 1000
    notes.push(`${producers.length.toLocaleString('en-US')} opened in ${openS.toFixed(1)} s (${(producers.length / openS).toFixed(0)}/s), ${res.failed} failed${res.firstError ? ` (first: ${res.firstError})` : ''}`)

    // A subset streams while everyone stays connected.
    const streamers = producers.filter((_, i) => i % STREAM_EVERY === 0)
    const msg = ipcBatch(1000, 3)
    const holdS = opts.quick ? 8 : 15
    log(`connections: holding ${holdS} s while ${streamers.length} of them stream`)
    let streaming = true
    for (const p of streamers) {
      p.onAck = (q) => { if (streaming) q.send(msg) }
      p.send(msg)
    }
    await sleep(holdS * 1000)
    streaming = false
    const holdRss = rss.sample()
    const gwCount = sumMetric(await scrape(gw.url, 'quiver_websocket_connections'), 'stream')
    const stillOpen = producers.filter((p) => p.ws.readyState === 1).length
    const streamedRows = streamers.reduce((s, p) => s + p.stats.ackedRows, 0)
    const streamErrors = streamers.reduce((s, p) => s + p.stats.errors, 0)
    rss.stop()
    const perConn = (holdRss - base) / Math.max(1, stillOpen)
    figures.push(
      { name: 'connections held open (client view)', value: stillOpen, target: `all ${TARGET.toLocaleString('en-US')}`, pass: stillOpen >= TARGET },
      { name: 'connections the gateway counts', value: gwCount },
      { name: 'gateway RSS while holding them', value: holdRss / MiB, unit: 'MiB', target: '≤ 2048 MiB', pass: holdRss <= RSS_TARGET && stillOpen > 0 },
      { name: 'gateway RSS peak', value: rss.peak / MiB, unit: 'MiB' },
      { name: 'gateway RSS per connection', value: perConn / 1024, unit: 'KiB' },
      { name: `rows streamed by ${streamers.length} producers during the hold`, value: streamedRows, unit: 'rows' },
      { name: 'generator RSS', value: process.memoryUsage().rss / MiB, unit: 'MiB' }
    )
    if (streamErrors > 0) notes.push(`${streamErrors} error frames while streaming`)
    if (opts.quick) notes.push(`--quick: ${target.toLocaleString('en-US')} connections attempted, so the 40k target cannot pass`)
    notes.push(`${TOKENS} distinct tokens (each verified once, then cached); source addresses ${SOURCES.join(', ')}`)
  } catch (err) {
    figures.push({ name: 'run', value: 'crashed', pass: false })
    notes.push((err as Error).message.split('\n').slice(0, 4).join(' / '))
  } finally {
    for (const p of producers) p.close()
    await scope.close()
  }
  return { bench: 'connections (40k WebSockets)', figures, notes }
}
