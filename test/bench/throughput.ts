import { loadavg } from 'node:os'
import { ipcBatch, makeBatch } from './lib/data.ts'
import { parquetjsRate, wasmEncodeRate } from './lib/encode.ts'
import { launchGateway, launchS3, scrape, stopGateway, sumMetric, Scope, type BenchGateway } from './lib/gateway.ts'
import { runIngestLoad } from './lib/http-ingest.ts'
import { CpuMeter, RssSampler } from './lib/proc.ts'
import { log, median, MiB, type BenchResult } from './lib/table.ts'
import { profileArgs, summariseProfiles } from './lib/profile.ts'

export interface BenchOptions {
  quick: boolean
  profile: boolean
  /** matrix only: run just these cells (as named in its table, e.g. `8 × 40 MiB accepted`), skip the rest. */
  cells?: string[]
}

const ROWS = 200_000

/**
 * Throughput with large batches: the single-thread parquet-wasm ceiling and the parquetjs
 * baseline, then the gateway end to end (3 clients, durable acks) on the local directory and on
 * s3rver, all on the same bytes in one run.
 */
export async function throughput (opts: BenchOptions): Promise<BenchResult> {
  const notes: string[] = [`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`]
  const ipc = ipcBatch(ROWS)
  const perRow = ipc.byteLength / ROWS
  log(`throughput: one 200k-row batch = ${(ipc.byteLength / MiB).toFixed(2)} MiB of Arrow IPC`)

  log('throughput: parquet-wasm ZSTD single-thread ceiling')
  const ceiling = wasmEncodeRate(ipc, ROWS, opts.quick ? 2 : 5)
  log('throughput: @dsnp/parquetjs baseline')
  const pqRows = opts.quick ? 20_000 : 100_000
  const baseline = await parquetjsRate(makeBatch(ROWS), perRow, pqRows)

  const batchesPerRequest = Number(process.env.BENCH_BATCHES_PER_REQUEST ?? 4)
  const seconds = opts.quick ? 8 : 15
  const targets = [{ name: 'local dir', s3: false }, { name: 's3rver', s3: true }]
  const e2e: Array<{ name: string, mibPerS: number, rowsPerS: number, p50: number, cores: number, gen: number, rssPeak: number, errors: string[], committedRows: number, flushes: number, s3Cores?: number }> = []
  for (const target of targets) {
    const scope = new Scope()
    let gwRef: BenchGateway | null = null
    try {
      const env: Record<string, string> = {}
      const s3 = target.s3 ? await launchS3(scope) : null
      if (s3) Object.assign(env, s3.env)
      const prof = opts.profile && !target.s3 ? profileArgs() : null
      const gw = await launchGateway(scope, env, prof?.args)
      gwRef = gw
      const token = gw.token(['write'])
      const base = { url: gw.url, topic: 'bench_throughput', token, clients: 3, batchesPerRequest, rowsPerBatch: ROWS }
      log(`throughput: ${target.name}: warm-up`)
      // One request first: concurrent first writers to a new topic race its auto-creation (see README).
      const first = await runIngestLoad({ ...base, clients: 1, seconds: 30, maxRequests: 1 })
      if (first.errors.length > 0) throw new Error(`first request failed: ${first.errors[0]}`)
      const warm = await runIngestLoad({ ...base, seconds: 30, maxRequests: 3 })
      if (warm.errors.length > 0) throw new Error(`warm-up failed: ${warm.errors[0]}`)
      const rows0 = sumMetric(await scrape(gw.url, 'quiver_rows_ingested_total'))
      const flush0 = sumMetric(await scrape(gw.url, 'quiver_flushes_total'))
      log(`throughput: ${target.name}: ${seconds} s with 3 clients × ${batchesPerRequest} batches per request`)
      const rss = new RssSampler(gw.proc.pid!).start()
      const cpu = new CpuMeter(gw.proc.pid!).start()
      const s3cpu = s3 ? new CpuMeter(s3.proc.pid!).start() : null
      const r = await runIngestLoad({ ...base, seconds, maxRequests: 10_000 })
      const c = cpu.stop()
      const s3Cores = s3cpu?.stop().gatewayCores
      rss.stop()
      const rows1 = sumMetric(await scrape(gw.url, 'quiver_rows_ingested_total'))
      const flush1 = sumMetric(await scrape(gw.url, 'quiver_flushes_total'))
      e2e.push({
        name: target.name,
        mibPerS: r.bytes / MiB / r.seconds,
        rowsPerS: r.rows / r.seconds,
        p50: median(r.latenciesMs),
        cores: c.gatewayCores,
        gen: c.generatorCores,
        rssPeak: rss.peak,
        errors: r.errors,
        committedRows: rows1 - rows0,
        flushes: flush1 - flush0,
        s3Cores
      })
      const code = await stopGateway(gw)
      if (code !== 0) notes.push(`${target.name}: gateway exited with ${code}`)
      if (prof) notes.push(...summariseProfiles(prof.dir, 15))
    } catch (err) {
      notes.push(`${target.name}: ${(err as Error).message.split('\n')[0]}`)
      if (gwRef && gwRef.proc.exitCode !== null) {
        notes.push(`${target.name}: the gateway exited with ${gwRef.proc.exitCode}: ${gwRef.stderr().trim().split('\n').slice(-3).join(' / ').replace(/eyJ[\w.-]+/g, '[token]').slice(0, 600)}`)
      }
      e2e.push({ name: target.name, mibPerS: 0, rowsPerS: 0, p50: NaN, cores: 0, gen: 0, rssPeak: 0, errors: [(err as Error).message], committedRows: 0, flushes: 0 })
    } finally {
      await scope.close()
    }
  }

  const figures: BenchResult['figures'] = [
    { name: 'parquet-wasm ZSTD 1 thread (ceiling)', value: ceiling.mibPerS, unit: 'MiB/s' },
    { name: 'parquet-wasm ZSTD 1 thread', value: ceiling.rowsPerS, unit: 'rows/s' },
    { name: 'parquet-wasm ZSTD 1 thread per CPU-second', value: ceiling.mibPerCpuS, unit: 'MiB/CPU-s' },
    { name: '@dsnp/parquetjs SNAPPY (baseline)', value: baseline.mibPerS, unit: 'MiB/s' },
    { name: '@dsnp/parquetjs SNAPPY', value: baseline.rowsPerS, unit: 'rows/s' }
  ]
  for (const e of e2e) {
    figures.push(
      { name: `e2e ${e.name} durable`, value: e.mibPerS, unit: 'MiB/s' },
      { name: `e2e ${e.name} durable`, value: e.rowsPerS, unit: 'rows/s' },
      { name: `e2e ${e.name} / ceiling`, value: e.mibPerS / ceiling.mibPerS, unit: '×', target: '≥ 1.5', pass: e.mibPerS / ceiling.mibPerS >= 1.5 },
      { name: `e2e ${e.name} / parquetjs`, value: e.mibPerS / baseline.mibPerS, unit: '×', target: '≥ 15', pass: e.mibPerS / baseline.mibPerS >= 15 },
      { name: `e2e ${e.name} request p50`, value: e.p50, unit: 'ms' },
      { name: `e2e ${e.name} gateway CPU`, value: e.cores, unit: 'cores' },
      { name: `e2e ${e.name} per gateway CPU-second`, value: e.cores > 0 ? e.mibPerS / e.cores : 0, unit: 'MiB/CPU-s' },
      { name: `e2e ${e.name} generator CPU`, value: e.gen, unit: 'cores' },
      ...(e.s3Cores === undefined ? [] : [{ name: `e2e ${e.name}: the s3rver process's CPU`, value: e.s3Cores, unit: 'cores' }]),
      { name: `e2e ${e.name} gateway RSS peak`, value: e.rssPeak / MiB, unit: 'MiB' }
    )
    notes.push(`${e.name}: ${e.flushes} flushes committed ${e.committedRows.toLocaleString('en-US')} rows during the timed run${e.errors.length ? `; errors: ${e.errors.slice(0, 2).join(' | ')}` : ''}`)
  }
  notes.push(`ceiling: ${ceiling.iterations} encodes in ${ceiling.seconds.toFixed(1)} s, ${(ceiling.outBytes / MiB).toFixed(2)} MiB Parquet per batch; baseline: ${pqRows.toLocaleString('en-US')} rows in ${baseline.seconds.toFixed(1)} s`)
  notes.push(`MiB/s everywhere = Arrow IPC stream bytes in; ${batchesPerRequest} × 200k-row batches per request`)
  notes.push('MiB/CPU-s: bytes per CPU-second actually spent (ceiling: this thread; e2e: every gateway thread). On a shared machine the wall-clock ratio depends on who got the cores; with both cores to itself, e2e ≈ 2 × its MiB/CPU-s, to compare with 1.5 × the ceiling')
  return { bench: 'throughput (large batches)', figures, notes }
}
