import { loadavg } from 'node:os'
import { Agent, request } from 'undici'
import WebSocket from 'ws'
import { ipcBatch } from './lib/data.ts'
import { launchGateway, Scope, stopGateway } from './lib/gateway.ts'
import { log, percentile, printResult, type BenchResult } from './lib/table.ts'

// What Idempotency-Keys cost: the same closed-loop workload with and without keys,
// against one gateway on the local directory, phases interleaved (off, on, off, on) so the VM's
// drift hits both sides alike. HTTP: CLIENTS undici connections, one 1,000-row Arrow request
// each in flight, ack=durable. WebSocket: CLIENTS connections, IN_FLIGHT messages each, with or
// without a key frame before every message. Every keyed request has a fresh key (the cost of
// claiming, not of replaying). Run alone, on a quiet machine:
//   node --import tsx test/bench/idempotency-cost.ts        (BENCH_SECONDS per phase, default 10)
// Not part of `npm run bench`; not a tap test.

const ROWS = 1000
const CLIENTS = 8
const IN_FLIGHT = 4
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)

interface Phase { acked: number, rows: number, errors: number, latencies: number[] }

async function httpPhase (url: string, token: string, body: Uint8Array, keyed: boolean, tag: string): Promise<Phase> {
  const agent = new Agent({ connections: CLIENTS })
  const out: Phase = { acked: 0, rows: 0, errors: 0, latencies: [] }
  const end = performance.now() + SECONDS * 1000
  let n = 0
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now()
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.apache.arrow.stream' }
      if (keyed) headers['idempotency-key'] = `bench-${tag}-${n++}`
      const res = await request(`${url}/v1/topics/bench_keys/records?ack=durable`, { method: 'POST', headers, body, dispatcher: agent })
      await res.body.text()
      if (res.statusCode === 200) {
        out.acked++
        out.rows += ROWS
        out.latencies.push(performance.now() - t0)
      } else out.errors++
    }
  }))
  await agent.close()
  return out
}

async function wsPhase (url: string, token: string, body: Uint8Array, keyed: boolean, tag: string): Promise<Phase> {
  const out: Phase = { acked: 0, rows: 0, errors: 0, latencies: [] }
  const end = performance.now() + SECONDS * 1000
  let n = 0
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/topics/bench_keys/stream`, ['quiver.v1', `bearer.${token}`], { perMessageDeflate: false })
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    const sentAt: number[] = []
    const send = () => {
      if (keyed) ws.send(JSON.stringify({ type: 'key', key: `bench-${tag}-${n++}` }))
      sentAt.push(performance.now())
      ws.send(body)
    }
    await new Promise<void>((resolve) => {
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { type: string }
        const t0 = sentAt.shift()!
        if (frame.type === 'ack') {
          out.acked++
          out.rows += ROWS
          out.latencies.push(performance.now() - t0)
        } else out.errors++
        if (performance.now() < end) send()
        else if (sentAt.length === 0) resolve()
      })
      for (let i = 0; i < IN_FLIGHT; i++) send()
    })
    ws.close()
  }))
  return out
}

async function main (): Promise<void> {
  const scope = new Scope()
  const notes = [`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`, `${SECONDS} s per phase, order off/on/off/on per transport`]
  const figures: BenchResult['figures'] = []
  try {
    const gw = await launchGateway(scope, { FLUSH_INTERVAL_MS: '200' })
    const token = gw.token(['write'])
    const body = ipcBatch(ROWS, 3)
    for (const [name, phase] of [['http', httpPhase], ['ws', wsPhase]] as const) {
      const sums = { off: { acked: 0, rows: 0, errors: 0, latencies: [] as number[] }, on: { acked: 0, rows: 0, errors: 0, latencies: [] as number[] } }
      await phase(gw.url, token, body, false, `${name}-warm`) // warm-up: topic creation, JIT, encoder threads
      for (let round = 0; round < 2; round++) {
        for (const keyed of [false, true]) {
          log(`${name}: round ${round + 1}, keys ${keyed ? 'on' : 'off'}`)
          const r = await phase(gw.url, token, body, keyed, `${name}-${round}`)
          const s = sums[keyed ? 'on' : 'off']
          s.acked += r.acked
          s.rows += r.rows
          s.errors += r.errors
          s.latencies.push(...r.latencies)
        }
      }
      for (const side of ['off', 'on'] as const) {
        const s = sums[side]
        const sorted = s.latencies.sort((a, b) => a - b)
        figures.push({ name: `${name} keys ${side}: rows/s`, value: s.rows / (2 * SECONDS), unit: 'rows/s' })
        figures.push({ name: `${name} keys ${side}: acks p50 / p99`, value: `${percentile(sorted, 50).toFixed(0)} / ${percentile(sorted, 99).toFixed(0)}`, unit: 'ms' })
        figures.push({ name: `${name} keys ${side}: errors`, value: s.errors })
      }
      figures.push({ name: `${name}: keyed / unkeyed throughput`, value: sums.on.rows / Math.max(1, sums.off.rows), unit: '×' })
    }
    await stopGateway(gw)
  } finally {
    await scope.close()
  }
  notes.push(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  printResult({ bench: 'idempotency-cost', figures, notes })
}

await main()
