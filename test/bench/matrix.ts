import { loadavg } from 'node:os'
import { Client } from 'undici'
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm'
import { ensureBuilt, launchShipped, type ShippedGateway } from './lib/shipped.ts'
import { Scope } from './lib/gateway.ts'
import { CpuMeter, RssSampler } from './lib/proc.ts'
import { userBatch, userBody } from './lib/user-data.ts'
import { adminFlush, bigBody, smallWriters, WS_PER_PRINCIPAL, type Cell } from './lib/matrix-cases.ts'
import { parquetjsRate } from './lib/encode.ts'
import { log, MiB, percentile, type BenchResult } from './lib/table.ts'
import { summariseProfiles } from './lib/profile.ts'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchOptions } from './throughput.ts'

const KiB = 1024
const SIZES = [64 * KiB, MiB, 7 * MiB, 40 * MiB]
const PRODUCERS = [1, 3, 8]
const ACKS = ['durable', 'accepted'] as const
const FLUSH_INTERVAL_MS = 200
const sizeName = (b: number) => b >= MiB ? `${b / MiB} MiB` : `${b / KiB} KiB`

/** Single-thread ZSTD encode (parquet-wasm defaults + ZSTD, IPC import included) of `ipc`, this run. */
function ceiling (ipc: Uint8Array, rows: number, seconds: number): { mibPerS: number, rowsPerS: number } {
  const encode = () => writeParquet(WasmTable.fromIPCStream(ipc), new WriterPropertiesBuilder().setCompression(Compression.ZSTD).build())
  encode()
  let n = 0
  const t0 = performance.now()
  while (n < 3 || performance.now() - t0 < seconds * 1000) { encode(); n++ }
  const s = (performance.now() - t0) / 1000
  return { mibPerS: ipc.byteLength * n / MiB / s, rowsPerS: rows * n / s }
}

/** Closed loop: `producers` connections, each sending the same single-batch body again as soon as it is answered. */
async function cell (gw: ShippedGateway, body: { ipc: Uint8Array, rows: number }, producers: number, ack: string, seconds: number): Promise<Cell> {
  await adminFlush(gw)
  const token = gw.token(['write'])
  const lat: number[] = []
  let bytes = 0
  let rows = 0
  let errors = 0
  let lastError = ''
  const rss = new RssSampler(gw.pid, 50).start()
  const cpu = new CpuMeter(gw.pid).start()
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  await Promise.all(Array.from({ length: producers }, async () => {
    const client = new Client(gw.url, { headersTimeout: 300_000, bodyTimeout: 300_000 })
    try {
      while (performance.now() < end && errors < 50) {
        const t = performance.now()
        const r = await client.request({
          method: 'POST',
          path: `/v1/topics/matrix/records?ack=${ack}`,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.apache.arrow.stream' },
          body: body.ipc
        })
        const text = await r.body.text()
        if (r.statusCode >= 300) {
          errors++
          lastError = `${r.statusCode} ${text.slice(0, 120)}`
          if (r.statusCode === 503) await new Promise((resolve) => setTimeout(resolve, 20))
          continue
        }
        lat.push(performance.now() - t)
        bytes += body.ipc.byteLength
        rows += body.rows
      }
    } finally {
      await client.close()
    }
  }))
  // Accepted rows count once committed: the drain belongs to the run.
  if (ack === 'accepted') await adminFlush(gw)
  const s = (performance.now() - t0) / 1000
  const c = cpu.stop()
  rss.stop()
  lat.sort((a, b) => a - b)
  return { mibPerS: bytes / MiB / s, rowsPerS: rows / s, p50: percentile(lat, 50), p99: percentile(lat, 99), cores: c.gatewayCores, rssPeak: rss.peak / MiB, errors, lastError }
}

/**
 * The matrix of issue 15 on the shipped build (`npm start`, dist): producers × body size × ack
 * mode as MiB/s, rows/s and their ratio to the single-thread ZSTD ceiling measured in this run,
 * ack latency, gateway CPU and RSS; then 200 WebSocket small writers and a 1 GiB body's RSS.
 * `--profile`: only the 3 × 7 MiB durable cell, with the gateway under --cpu-prof. `--cell NAME`
 * (repeatable): only the cells named so (`8 × 40 MiB accepted`), nothing else.
 */
export async function matrix (opts: BenchOptions): Promise<BenchResult> {
  const notes: string[] = [`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`]
  const figures: BenchResult['figures'] = []
  ensureBuilt()
  const bodies = new Map(SIZES.map((s) => [s, userBody(s, 1)]))
  const seven = bodies.get(7 * MiB)!
  log('matrix: single-thread ZSTD ceiling on the 7 MiB body')
  const ceil = ceiling(seven.ipc, seven.rows, opts.quick ? 2 : 4)
  figures.push({ name: 'ceiling: parquet-wasm ZSTD, 1 thread', value: ceil.mibPerS, unit: 'MiB/s' }, { name: 'ceiling', value: ceil.rowsPerS, unit: 'rows/s' })
  // The naive baseline of the issue, on the same rows (the 7 MiB body's batch), in this run.
  log('matrix: @dsnp/parquetjs baseline on the 7 MiB body\'s rows')
  const pqRows = opts.quick ? 20_000 : 100_000
  const baseline = await parquetjsRate(userBatch(seven.rows, 1), seven.ipc.byteLength / seven.rows, Math.min(pqRows, seven.rows))
  figures.push({ name: 'baseline: @dsnp/parquetjs SNAPPY', value: baseline.mibPerS, unit: 'MiB/s' })
  const seconds = opts.quick ? 2 : 5
  const scope = new Scope()
  try {
    const prof = opts.profile ? mkdtempSync(join(tmpdir(), 'quiver-matrix-prof-')) : undefined
    const gw = await launchShipped(scope, { FLUSH_INTERVAL_MS: String(FLUSH_INTERVAL_MS) }, prof)
    await cell(gw, bodies.get(64 * KiB)!, 1, 'durable', 0.5) // creates the topic
    const all = ACKS.flatMap((ack) => PRODUCERS.flatMap((p) => SIZES.map((size) => ({ ack, p, size }))))
    const picked = opts.cells === undefined ? all : all.filter((c) => opts.cells!.includes(`${c.p} × ${sizeName(c.size)} ${c.ack}`))
    if (picked.length === 0) throw new Error(`no matrix cell named ${opts.cells!.join(', ')}; e.g. ${all.map((c) => `${c.p} × ${sizeName(c.size)} ${c.ack}`).slice(0, 3).join(', ')}`)
    const cells = opts.profile ? [{ ack: 'durable', p: 3, size: 7 * MiB }] : picked
    for (const { ack, p, size } of cells) {
      log(`matrix: ${p} × ${sizeName(size)} ${ack}`)
      const c = await cell(gw, bodies.get(size)!, p, ack, opts.profile ? 15 : seconds)
      const name = `${p} × ${sizeName(size)} ${ack}`
      const judged = p === 3 && size === 7 * MiB && ack === 'durable'
      figures.push({
        name,
        value: `${c.mibPerS.toFixed(1)} MiB/s ${Math.round(c.rowsPerS / 1000)}k rows/s = ${(c.mibPerS / ceil.mibPerS).toFixed(2)} ×; p50/p99 ${c.p50.toFixed(0)}/${c.p99.toFixed(0)} ms; ${c.cores.toFixed(2)} cores; RSS ${c.rssPeak.toFixed(0)} MiB${c.errors ? `; ${c.errors} refused (${c.lastError.slice(0, 60)})` : ''}`,
        ...(judged ? { target: '≥ 1.5 × ceiling', pass: c.mibPerS / ceil.mibPerS >= 1.5 } : {})
      })
      if (judged) figures.push({ name: `${name} / parquetjs`, value: c.mibPerS / baseline.mibPerS, unit: '×', target: '≥ 20 ×', pass: c.mibPerS / baseline.mibPerS >= 20 })
    }
    await gw.stop()
    if (prof) notes.push(...summariseProfiles(prof, 15))
    if (!opts.profile && opts.cells === undefined) {
      log('matrix: 200 WebSocket producers')
      const ws = await smallWriters(scope, opts.quick ? 4 : 10)
      notes.push(`WebSocket case: 200 producers as ${ws.principals} principals of ${WS_PER_PRINCIPAL} (WS_MAX_CONNECTIONS_PER_SUB left at its default, 100 per principal)`)
      figures.push({
        name: '200 WS producers, 1,000-row messages, 4 in flight: rows/s / ceiling',
        value: `${Math.round(ws.rowsPerS).toLocaleString('en-US')} rows/s = ${(ws.rowsPerS / ceil.rowsPerS).toFixed(2)} ×; ${ws.mibPerS.toFixed(1)} MiB/s; ${ws.cores.toFixed(2)} cores; RSS ${ws.rssPeak.toFixed(0)} MiB${ws.errors ? `; ${ws.errors} errors (${ws.lastError})` : ''}`,
        target: '≥ 0.75 ×',
        pass: ws.rowsPerS / ceil.rowsPerS >= 0.75
      }, { name: '200 WS producers: ack p50 / p99', value: `${ws.p50.toFixed(0)} / ${ws.p99.toFixed(0)} ms`, target: `p99 ≤ ${ws.flushMs + 500} ms`, pass: ws.p99 <= ws.flushMs + 500 })
      // A closed loop acked at flushes moves at most its rows in flight per window: every producer's
      // next messages arrive just after the flush that answered the last ones, and wait for the next.
      const bound = 200 * 4 * 1000 / (ws.flushMs / 1000)
      notes.push(`WebSocket case, 4 in flight: a durable closed loop cannot exceed 200 × 4 × 1,000 rows per ${ws.flushMs} ms window = ${Math.round(bound).toLocaleString('en-US')} rows/s = ${(bound / ceil.rowsPerS).toFixed(2)} × this run's ceiling, whatever the gateway's speed; the 16-in-flight line shows what the gateway itself sustains`)
      log('matrix: 200 WebSocket producers, 16 in flight')
      const ws16 = await smallWriters(scope, opts.quick ? 4 : 10, 16)
      figures.push({
        name: '200 WS producers, 16 in flight (the gateway\'s capacity, not judged)',
        value: `${Math.round(ws16.rowsPerS).toLocaleString('en-US')} rows/s = ${(ws16.rowsPerS / ceil.rowsPerS).toFixed(2)} ×; p50/p99 ${ws16.p50.toFixed(0)}/${ws16.p99.toFixed(0)} ms; ${ws16.cores.toFixed(2)} cores; RSS ${ws16.rssPeak.toFixed(0)} MiB${ws16.errors ? `; ${ws16.errors} errors (${ws16.lastError})` : ''}`
      })
      // Batch sizes and column mixes: the five user columns in 100k- and 5k-row batches, and 80
      // columns (16 × those five) in 100k-row batches, ~35 MiB messages.
      const shapes = opts.quick ? [{ rows: 100_000, wide: false }] : [{ rows: 100_000, wide: false }, { rows: 5_000, wide: false }, { rows: 100_000, wide: true }]
      for (const { rows: rowsPerBatch, wide } of shapes) {
        const what = `${rowsPerBatch.toLocaleString('en-US')}-row batches${wide ? ' of 80 columns' : ''}`
        log(`matrix: 1 GiB body of ${what}`)
        const big = await bigBody(scope, rowsPerBatch, 1024 * MiB, wide)
        figures.push({ name: `1 GiB body, ${what}, accepted: RSS peak`, value: `${big.rssPeak.toFixed(0)} MiB (${big.status}, ${big.batchMiB.toFixed(1)} MiB batches, ${(1024 / big.seconds).toFixed(0)} MiB/s, ${big.cores.toFixed(2)} cores)`, target: '≤ 400 MiB', pass: big.status < 300 && big.rssPeak <= 400 })
      }
    }
  } catch (err) {
    figures.push({ name: 'run', value: 'crashed', pass: false })
    notes.push((err as Error).message.split('\n').slice(0, 4).join(' / '))
  } finally {
    await scope.close()
  }
  // Figures mean little unless the machine was quiet throughout: the end's load goes beside the start's.
  notes.push(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  notes.push(`baseline: @dsnp/parquetjs appendRow SNAPPY (its fastest codec), ${Math.min(pqRows, seven.rows).toLocaleString('en-US')} rows of the 7 MiB body in ${baseline.seconds.toFixed(1)} s; MiB/s in the IPC bytes those rows take`)
  notes.push(`bodies: one Arrow batch each (int64, low-cardinality string, double, timestamp[ms, UTC], bool); closed loop ${seconds} s per cell, FLUSH_INTERVAL_MS=${FLUSH_INTERVAL_MS}; accepted cells include the final flush; MiB/s = Arrow IPC bytes in`)
  return { bench: 'matrix (shipped build, npm start)', figures, notes }
}
