/**
 * Child process of the connections benchmark: holds its share of WebSocket connections (a
 * process may not open more files than RLIMIT_NOFILE, so the load is spread over several).
 * Driven over the IPC channel: open → stream → status → close.
 */
import { ipcBatch } from './data.ts'
import { openMany, Producer } from './ws-producer.ts'

interface OpenCmd { cmd: 'open', url: string, topics: number, tokens: string[], sources: string[], count: number, offset: number, concurrency: number, deadlineMs: number }
interface StreamCmd { cmd: 'stream', every: number, seconds: number }
type Cmd = OpenCmd | StreamCmd | { cmd: 'status' } | { cmd: 'close' }

let producers: Producer[] = []
const send = (m: object) => process.send!(m)

process.on('message', (m: Cmd) => {
  handle(m).catch((err) => send({ error: (err as Error).message }))
})

async function handle (m: Cmd): Promise<void> {
  if (m.cmd === 'open') {
    const res = await openMany((i) => {
      const n = m.offset + i
      return new Producer(`${m.url}/v1/topics/bench_conn_${n % m.topics}/stream`, m.tokens[n % m.tokens.length], m.sources[n % m.sources.length])
    }, m.count, m.concurrency, m.deadlineMs)
    producers = res.open
    send({ opened: res.open.length, failed: res.failed, firstError: res.firstError })
  } else if (m.cmd === 'stream') {
    const msg = ipcBatch(1000, 3)
    const streamers = producers.filter((_, i) => i % m.every === 0)
    let on = true
    for (const p of streamers) {
      p.onAck = (q) => { if (on) q.send(msg) }
      p.send(msg)
    }
    await new Promise((resolve) => setTimeout(resolve, m.seconds * 1000))
    on = false
    send({ streamers: streamers.length, rows: streamers.reduce((s, p) => s + p.stats.ackedRows, 0), errors: streamers.reduce((s, p) => s + p.stats.errors, 0) })
  } else if (m.cmd === 'status') {
    send({ open: producers.filter((p) => p.ws.readyState === 1).length, rss: process.memoryUsage().rss, closeCodes: [...new Set(producers.map((p) => p.closedCode).filter(Boolean))] })
  } else {
    for (const p of producers) p.close()
    producers = []
    send({ closed: true })
    setTimeout(() => process.exit(0), 100)
  }
}
