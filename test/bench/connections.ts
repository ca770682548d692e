import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { launchGateway, scrape, Scope, sumMetric, type BenchGateway } from './lib/gateway.ts'
import { rssOf, RssSampler } from './lib/proc.ts'
import { ask } from './lib/ask.ts'
import { log, MiB, type BenchResult } from './lib/table.ts'
import type { BenchOptions } from './throughput.ts'

const TARGET = 40_000
const SOURCES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']
const TOKENS = 200
const TOPICS = 10
const STREAM_EVERY = 40 // one connection in 40 streams while the rest are held open
const PER_CHILD = 10_000
const FD_HEADROOM = 500 // files, sockets to storage, worker plumbing of the gateway itself
const RSS_TARGET = 2 * 1024 * MiB
const CLIENT = fileURLToPath(new URL('./lib/conn-client.ts', import.meta.url))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function nofileOf (pid: number): { soft: number, hard: number } {
  const m = /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))
  return { soft: Number(m?.[1] ?? 0), hard: Number(m?.[2] ?? 0) }
}

/**
 * Connections: as many of 40,000 authenticated WebSocket ingest connections as the gateway may
 * hold, from several client processes (each is capped by RLIMIT_NOFILE too) using source addresses
 * 127.0.0.1–4 so no address runs out of ephemeral ports; one in 40 streams 1,000-row messages
 * while the others idle. Reports the gateway's RSS per connection.
 */
export async function connections (opts: BenchOptions): Promise<BenchResult> {
  const notes: string[] = [`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`]
  const figures: BenchResult['figures'] = []
  const scope = new Scope()
  const children: ChildProcess[] = []
  try {
    const gw = await launchGateway(scope, {})
    const lim = nofileOf(gw.proc.pid!)
    const want = opts.quick ? 10_000 : TARGET
    const target = Math.min(want, lim.soft - FD_HEADROOM)
    notes.push(`gateway open-file limit ${lim.soft} (hard ${lim.hard}); this container cannot raise it (no CAP_SYS_RESOURCE), so at most ${target.toLocaleString('en-US')} of ${want.toLocaleString('en-US')} connections were attempted`)
    const tokens = Array.from({ length: TOKENS }, (_, i) => gw.token(['write'], `conn-${i}`))
    const rss = new RssSampler(gw.proc.pid!, 200).start()
    await sleep(500)
    const base = rssOf(gw.proc.pid!)
    const nChildren = Math.ceil(target / PER_CHILD)
    for (let i = 0; i < nChildren; i++) {
      const c = fork(CLIENT, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      children.push(c)
    }
    log(`connections: opening ${target.toLocaleString('en-US')} from ${nChildren} client processes (gateway RSS ${(base / MiB).toFixed(0)} MiB before)`)
    const progress = setInterval(() => log(`connections: gateway RSS ${(rssOf(gw.proc.pid!) / MiB).toFixed(0)} MiB`), 10_000)
    const t0 = performance.now()
    const wsUrl = gw.url.replace('http:', 'ws:')
    const opened = await Promise.all(children.map((c, i) => {
      const count = Math.min(PER_CHILD, target - i * PER_CHILD)
      return ask<{ opened: number, failed: number, firstError: string }>(c, {
        cmd: 'open', url: wsUrl, topics: TOPICS, tokens, sources: SOURCES, count, offset: i * PER_CHILD, concurrency: 128, deadlineMs: opts.quick ? 60_000 : 150_000
      })
    }))
    clearInterval(progress)
    const openS = (performance.now() - t0) / 1000
    const nOpen = opened.reduce((s, o) => s + o.opened, 0)
    const failed = opened.reduce((s, o) => s + o.failed, 0)
    notes.push(`${nOpen.toLocaleString('en-US')} opened in ${openS.toFixed(1)} s (${(nOpen / openS).toFixed(0)}/s), ${failed} failed${failed ? ` (first: ${opened.find((o) => o.firstError)?.firstError})` : ''}`)

    const holdS = opts.quick ? 8 : 10
    log(`connections: holding for ${holdS} s while one in ${STREAM_EVERY} streams`)
    const streamed = await Promise.all(children.map((c) => ask<{ streamers: number, rows: number, errors: number }>(c, { cmd: 'stream', every: STREAM_EVERY, seconds: holdS })))
    const holdRss = rss.sample()
    const gwCount = sumMetric(await scrape(gw.url, 'quiver_websocket_connections'), 'stream')
    const status = await Promise.all(children.map((c) => ask<{ open: number, rss: number, closeCodes: number[] }>(c, { cmd: 'status' })))
    rss.stop()
    const stillOpen = status.reduce((s, x) => s + x.open, 0)
    const streamers = streamed.reduce((s, x) => s + x.streamers, 0)
    const rows = streamed.reduce((s, x) => s + x.rows, 0)
    const errors = streamed.reduce((s, x) => s + x.errors, 0)
    const perConn = (holdRss - base) / Math.max(1, stillOpen)
    figures.push(
      { name: 'connections held open (client view)', value: stillOpen, target: `all ${TARGET.toLocaleString('en-US')}`, pass: stillOpen >= TARGET },
      { name: 'connections the gateway counts', value: gwCount },
      { name: 'gateway RSS while holding them', value: holdRss / MiB, unit: 'MiB', target: '≤ 2048 MiB', pass: stillOpen > 0 && holdRss <= RSS_TARGET },
      { name: 'gateway RSS peak', value: rss.peak / MiB, unit: 'MiB' },
      { name: 'gateway RSS per connection', value: perConn / 1024, unit: 'KiB' },
      { name: 'projected gateway RSS at 40,000', value: (base + perConn * TARGET) / MiB, unit: 'MiB' },
      { name: `rows acked to ${streamers} streaming connections during the hold`, value: rows, unit: 'rows' },
      { name: 'client processes RSS (sum)', value: status.reduce((s, x) => s + x.rss, 0) / MiB, unit: 'MiB' }
    )
    const codes = [...new Set(status.flatMap((s) => s.closeCodes))]
    if (codes.length) notes.push(`close codes seen by clients: ${codes.join(', ')}`)
    if (errors > 0) notes.push(`${errors} error frames while streaming`)
    notes.push(`${TOKENS} distinct tokens (each verified once, then served from the token cache); source addresses ${SOURCES.join(', ')}`)
  } catch (err) {
    figures.push({ name: 'run', value: 'crashed', pass: false })
    notes.push((err as Error).message.split('\n').slice(0, 4).join(' / '))
  } finally {
    await Promise.all(children.map((c) => ask(c, { cmd: 'close' }).catch(() => c.kill('SIGKILL'))))
    await scope.close()
  }
  if (!opts.quick) await acrossProcesses(figures, notes)
  return { bench: 'connections (40k WebSockets)', figures, notes }
}

/**
 * The same 40,000 on this machine when one process may not hold them: as many gateway processes
 * as the open-file limit requires, sharing one DATA_DIR (the multi-instance deployment: catalog
 * and objects are safe across instances), each with its share of the connections.
 */
async function acrossProcesses (figures: BenchResult['figures'], notes: string[]): Promise<void> {
  const scope = new Scope()
  const children: ChildProcess[] = []
  try {
    const dataDir = mkdtempSync(join(tmpdir(), 'quiver-conn-'))
    scope.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
    const perProcess = nofileOf(process.pid).soft - FD_HEADROOM
    const n = Math.ceil(TARGET / perProcess)
    const gws: BenchGateway[] = []
    for (let i = 0; i < n; i++) gws.push(await launchGateway(scope, { DATA_DIR: dataDir }))
    const tokens = Array.from({ length: TOKENS }, (_, i) => gws[0].token(['write'], `conn-${i}`))
    const samplers = gws.map((g) => new RssSampler(g.proc.pid!, 200).start())
    await sleep(500)
    const base = gws.reduce((sum, g) => sum + rssOf(g.proc.pid!), 0)
    const share = (i: number) => Math.floor(TARGET / n) + (i < TARGET % n ? 1 : 0)
    log(`connections: ${TARGET.toLocaleString('en-US')} across ${n} gateway processes sharing one DATA_DIR`)
    for (let i = 0; i < n; i++) children.push(fork(CLIENT, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
    const t0 = performance.now()
    const opened = await Promise.all(children.map((c, i) => ask<{ opened: number, failed: number, firstError: string }>(c, {
      cmd: 'open', url: gws[i].url.replace('http:', 'ws:'), topics: TOPICS, tokens, sources: SOURCES, count: share(i), offset: i * PER_CHILD, concurrency: 128, deadlineMs: 150_000
    })))
    const openS = (performance.now() - t0) / 1000
    const streamed = await Promise.all(children.map((c) => ask<{ rows: number }>(c, { cmd: 'stream', every: STREAM_EVERY, seconds: 10 })))
    const held = gws.reduce((sum, g) => sum + rssOf(g.proc.pid!), 0)
    const status = await Promise.all(children.map((c) => ask<{ open: number }>(c, { cmd: 'status' })))
    for (const r of samplers) r.stop()
    const stillOpen = status.reduce((sum, x) => sum + x.open, 0)
    figures.push(
      { name: `connections held open across ${n} gateway processes on this machine`, value: stillOpen, target: `all ${TARGET.toLocaleString('en-US')}`, pass: stillOpen >= TARGET },
      { name: `RSS of the ${n} gateways together while holding them`, value: held / MiB, unit: 'MiB', target: '≤ 2048 MiB', pass: stillOpen > 0 && held <= RSS_TARGET },
      { name: `RSS per connection across the ${n} (after their ${(base / MiB).toFixed(0)} MiB at rest)`, value: (held - base) / Math.max(1, stillOpen) / 1024, unit: 'KiB' },
      { name: 'rows acked to the streaming connections meanwhile', value: streamed.reduce((sum, x) => sum + x.rows, 0), unit: 'rows' }
    )
    notes.push(`across processes: ${opened.reduce((sum, o) => sum + o.opened, 0).toLocaleString('en-US')} opened in ${openS.toFixed(1)} s, ${opened.reduce((sum, o) => sum + o.failed, 0)} failed; ${n} gateways of at most ${perProcess.toLocaleString('en-US')} connections each (this container's open-file limit), one DATA_DIR`)
  } catch (err) {
    figures.push({ name: 'across processes', value: 'crashed', pass: false })
    notes.push((err as Error).message.split('\n').slice(0, 4).join(' / '))
  } finally {
    await Promise.all(children.map((c) => ask(c, { cmd: 'close' }).catch(() => c.kill('SIGKILL'))))
    await scope.close()
  }
}
