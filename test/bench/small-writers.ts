import { monitorEventLoopDelay } from 'node:perf_hooks'
import { loadavg } from 'node:os'
import { ipcBatch } from './lib/data.ts'
import { launchGateway, scrape, stopGateway, Scope, sumMetric } from './lib/gateway.ts'
import { parquetFiles } from './lib/files.ts'
import { CpuMeter } from './lib/proc.ts'
import { openMany, Producer } from './lib/ws-producer.ts'
import { log, MiB, percentile, type BenchResult } from './lib/table.ts'
import type { BenchOptions } from './throughput.ts'
import { profileArgs, summariseProfiles } from './lib/profile.ts'
import { WS_PER_PRINCIPAL, writerTokens } from './lib/matrix-cases.ts'

const WRITERS = 1000
const TOPICS = 10
const ROWS_PER_MESSAGE = 1000
const IN_FLIGHT = 4
const FLUSH_INTERVAL_MS = 1000
const TARGET_ROWS_PER_S = 1_500_000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function drain (producers: Producer[], ms: number): Promise<boolean> {
  const end = performance.now() + ms
  while (performance.now() < end) {
    if (producers.every((p) => p.inflight === 0)) return true
    await sleep(50)
  }
  return false
}

const total = (ps: Producer[], k: 'ackedRows' | 'errors' | 'acked' | 'sent') => ps.reduce((s, p) => s + p.stats[k], 0)

/**
 * Many small writers: 1,000 WebSocket producers over 10 topics, 1,000-row messages. Phase 1 is a
 * closed loop with IN_FLIGHT messages per producer awaiting their durable ack (the most the
 * gateway sustains); phase 2 sends open-loop at half the target rate and records ack latency.
 * The generator shares the machine's 2 cores with the gateway: both CPU figures are reported.
 */
export async function smallWriters (opts: BenchOptions): Promise<BenchResult> {
  const notes: string[] = [`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`]
  const scope = new Scope()
  const figures: BenchResult['figures'] = []
  const msg = ipcBatch(ROWS_PER_MESSAGE, 7)
  try {
    const prof = opts.profile ? profileArgs() : null
    const gw = await launchGateway(scope, { FLUSH_INTERVAL_MS: String(FLUSH_INTERVAL_MS) }, prof?.args)
    // Producers are many services, not one: WS_MAX_CONNECTIONS_PER_SUB (100 by default) holds per
    // principal, so they sign in as WRITERS / WS_PER_PRINCIPAL principals.
    const { tokens, principals } = writerTokens(gw, WRITERS, 'bench-small')
    const wsBase = gw.url.replace('http:', 'ws:')
    log(`small writers: opening ${WRITERS} WebSocket producers as ${principals} principals`)
    const t0 = performance.now()
    const { open: producers, failed, firstError } = await openMany((i) => new Producer(`${wsBase}/v1/topics/bench_small_${i % TOPICS}/stream`, tokens[i]), WRITERS, 100, 60_000)
    notes.push(`${producers.length} producers open in ${((performance.now() - t0) / 1000).toFixed(1)} s as ${principals} principals of ${WS_PER_PRINCIPAL}${failed ? `, ${failed} failed (${firstError})` : ''}`)
    figures.push({ name: 'producers connected', value: producers.length, target: `all ${WRITERS.toLocaleString('en-US')}`, pass: producers.length === WRITERS })
    if (producers.length === 0) throw new Error(`no producer could connect: ${firstError}`)
    const runStart = Date.now()

    // Phase 1: closed loop, as fast as the gateway acks.
    const warmS = opts.quick ? 3 : 4
    const measureS = opts.quick ? 8 : 15
    let sending = true
    for (const p of producers) {
      p.onAck = (q) => { if (sending && q.inflight < IN_FLIGHT) q.send(msg) }
      for (let k = 0; k < IN_FLIGHT; k++) p.send(msg)
    }
    log(`small writers: closed loop, ${IN_FLIGHT} in flight per producer, ${warmS} s warm-up + ${measureS} s`)
    await sleep(warmS * 1000)
    await scrape(gw.url, 'nodejs_eventloop_lag_p99_seconds') // resets the gateway's histogram
    const loop = monitorEventLoopDelay({ resolution: 10 })
    loop.enable()
    const rows0 = total(producers, 'ackedRows')
    const cpu = new CpuMeter(gw.proc.pid!).start()
    await sleep(measureS * 1000)
    const rows1 = total(producers, 'ackedRows')
    const c1 = cpu.stop()
    loop.disable()
    const gwLag = sumMetric(await scrape(gw.url, 'nodejs_eventloop_lag_p99_seconds')) * 1000
    sending = false
    const drained1 = await drain(producers, 20_000)
    const sustained = (rows1 - rows0) / c1.wallS
    figures.push(
      { name: 'sustained rows/s (closed loop, durable acks)', value: sustained, unit: 'rows/s', target: `≥ ${TARGET_ROWS_PER_S.toLocaleString('en-US')}`, pass: sustained >= TARGET_ROWS_PER_S },
      { name: 'sustained MiB/s of Arrow IPC', value: sustained / ROWS_PER_MESSAGE * msg.byteLength / MiB, unit: 'MiB/s' },
      { name: 'gateway CPU', value: c1.gatewayCores, unit: 'cores' },
      { name: 'generator CPU (same machine)', value: c1.generatorCores, unit: 'cores' },
      { name: 'gateway event-loop delay p99', value: gwLag, unit: 'ms' },
      { name: 'generator event-loop delay p99', value: loop.percentile(99) / 1e6, unit: 'ms' }
    )
    if (!drained1) notes.push('phase 1: not every message was acked within 20 s of stopping')

    // Phase 2: open loop at half the target (or half what phase 1 sustained, if that is lower).
    const rate = Math.max(10_000, Math.min(TARGET_ROWS_PER_S / 2, sustained / 2))
    const msgsPerS = rate / ROWS_PER_MESSAGE
    const latS = opts.quick ? 8 : 12
    log(`small writers: open loop at ${Math.round(rate).toLocaleString('en-US')} rows/s for ${latS} s`)
    for (const p of producers) p.onAck = null
    let credit = 0
    let rr = 0
    let last = performance.now()
    const startedAt = last
    const cpu2 = new CpuMeter(gw.proc.pid!).start()
    const ticker = setInterval(() => {
      const now = performance.now()
      credit += (now - last) / 1000 * msgsPerS
      last = now
      const record = now - startedAt > 2000 // first two seconds are warm-up
      while (credit >= 1) {
        const p = producers[rr++ % producers.length]
        p.recordLatency = record
        p.send(msg)
        credit--
      }
    }, 5)
    await sleep(latS * 1000)
    clearInterval(ticker)
    const c2 = cpu2.stop()
    const drained2 = await drain(producers, 20_000)
    const lat = producers.flatMap((p) => p.stats.latenciesMs).sort((a, b) => a - b)
    const p99 = percentile(lat, 99)
    figures.push(
      { name: 'open-loop load for latency', value: rate, unit: 'rows/s' },
      { name: 'ack latency p50', value: percentile(lat, 50), unit: 'ms' },
      { name: 'ack latency p99', value: p99, unit: 'ms', target: `≤ ${FLUSH_INTERVAL_MS + 300} ms`, pass: lat.length > 0 && p99 <= FLUSH_INTERVAL_MS + 300 },
      { name: 'ack latency max', value: lat[lat.length - 1] ?? NaN, unit: 'ms' },
      { name: 'gateway CPU at that load', value: c2.gatewayCores, unit: 'cores' },
      { name: 'generator CPU at that load', value: c2.generatorCores, unit: 'cores' }
    )
    if (!drained2) notes.push('phase 2: not every message was acked within 20 s of stopping')
    notes.push(`latency samples: ${lat.length.toLocaleString('en-US')} (messages sent after a 2 s warm-up, send → durable ack)`)

    // One object per topic-partition per flush: objects on disk against flush windows elapsed.
    const elapsedMs = Date.now() - runStart
    const errors = total(producers, 'errors')
    const acked = total(producers, 'acked')
    const ackedRows = total(producers, 'ackedRows')
    for (const p of producers) p.close()
    const rowsCommitted = sumMetric(await scrape(gw.url, 'quiver_rows_ingested_total'))
    const code = await stopGateway(gw)
    if (prof) notes.push(...summariseProfiles(prof.dir, 15))
    const files = parquetFiles(gw.dataDir)
    const perTopic = new Map<string, number>()
    const partitions = new Set<string>()
    for (const f of files) {
      const topic = f.split('/')[0]
      perTopic.set(topic, (perTopic.get(topic) ?? 0) + 1)
      partitions.add(f.slice(0, f.lastIndexOf('/')))
    }
    const windows = Math.ceil(elapsedMs / FLUSH_INTERVAL_MS) + 1
    const maxObjects = Math.max(0, ...perTopic.values())
    const partsPerTopic = partitions.size / Math.max(1, perTopic.size)
    const bound = windows * partsPerTopic
    figures.push(
      { name: 'topics × writers per topic', value: `${perTopic.size} × ${WRITERS / TOPICS}` },
      { name: 'flush windows elapsed (run time / FLUSH_INTERVAL_MS + 1)', value: windows },
      { name: 'Parquet objects, most in one topic', value: maxObjects, target: `≤ windows × partitions (${bound.toFixed(0)})`, pass: perTopic.size === TOPICS && maxObjects <= bound },
      { name: 'rows per object (mean)', value: ackedRows / Math.max(1, files.length), unit: 'rows' }
    )
    notes.push(`${acked.toLocaleString('en-US')} messages acked (${ackedRows.toLocaleString('en-US')} rows), ${errors} error frames; gateway counted ${rowsCommitted.toLocaleString('en-US')} rows ingested; ${files.length} objects in ${partitions.size} topic-partitions; gateway exit ${code}`)
    if (errors > 0) notes.push(`last error frame: ${producers.find((p) => p.lastError)?.lastError}`)
  } catch (err) {
    figures.push({ name: 'run', value: 'crashed', pass: false })
    notes.push((err as Error).message.split('\n').slice(0, 4).join(' / '))
  } finally {
    await scope.close()
  }
  return { bench: 'many small writers (1,000 WebSocket producers)', figures, notes }
}
