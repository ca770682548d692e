import { test } from 'tap'
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { Field, Int64, RecordBatchReader, Schema, Utf8 } from 'apache-arrow'
import { idTextIpc } from '../helpers/arrow.ts'
import { startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { metric } from '../helpers/ws-client.ts'

// Bounded reads: `GET …/records?limit=1000000` streams, decoding row groups off the event loop.
// The answer (~230 MB of Arrow) is far larger than the RSS growth allowed while it is served.
const ROWS = 1_000_000
const PER_REQUEST = 100_000
const PAD = 'x'.repeat(200)
const SCHEMA = new Schema([new Field('id', new Int64(), false), new Field('note', new Utf8(), false)])
const note = (i: number) => `${i}:${PAD}`

const ipcOf = (start: number, n: number): Uint8Array => idTextIpc(SCHEMA, start, n, note)

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024

test('a million-row read streams: exact rows in order, bounded gateway RSS, /healthz stays responsive', async (t) => {
  const gw = await startGateway(t, { FLUSH_MAX_BYTES: String(32 * 1024 * 1024), LOG_LEVEL: 'warn' })
  const admin = localToken(gw.dataDir, ['admin'])
  const auth = { authorization: `Bearer ${admin}` }
  const created = await fetch(`${gw.url}/v1/topics`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'wide', schema: { fields: [{ name: 'id', type: 'int64', nullable: false }, { name: 'note', type: 'string', nullable: false }] } })
  })
  t.equal(created.status, 201)
  let answerBytes = 0
  for (let start = 0; start < ROWS; start += PER_REQUEST) {
    const body = ipcOf(start, PER_REQUEST)
    answerBytes += body.byteLength
    const res = await fetch(`${gw.url}/v1/topics/wide/records?ack=durable`, { method: 'POST', headers: { ...auth, 'content-type': 'application/vnd.apache.arrow.stream' }, body: body as Uint8Array<ArrayBuffer> })
    t.equal(res.status, 200, `rows ${start}…`)
  }
  const files = (await (await fetch(`${gw.url}/v1/topics/wide/files`, { headers: auth })).json()) as { files: Array<{ rows: number }> }
  t.equal(files.files.reduce((s, f) => s + f.rows, 0), ROWS, `${files.files.length} objects hold the rows`)

  // Settle, then measure from here: what serving the read adds.
  const pid = gw.proc.pid!
  const baseline = rssMiB(pid)
  let peak = baseline
  const run = { reading: true }
  const sampler = (async () => {
    while (run.reading) { peak = Math.max(peak, rssMiB(pid)); await new Promise((resolve) => setTimeout(resolve, 20)) }
  })()
  const probes: number[] = []
  const prober = (async () => {
    while (run.reading) {
      const t0 = performance.now()
      const res = await fetch(`${gw.url}/healthz`)
      await res.arrayBuffer()
      probes.push(performance.now() - t0)
      await new Promise((resolve) => setTimeout(resolve, 20)) // a probe every ~20 ms, like a busy load balancer
    }
  })()

  // prom-client's event-loop delay histogram restarts at every scrape: this one opens the window.
  const lagMax = async () => metric(await (await fetch(`${gw.url}/metrics`)).text(), 'nodejs_eventloop_lag_max_seconds') * 1000
  await lagMax()
  const res = await fetch(`${gw.url}/v1/topics/wide/records?limit=1000000`, { headers: auth })
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), 'application/vnd.apache.arrow.stream')
  let rows = 0
  let batches = 0
  let wrong = 0
  let received = 0
  async function * counted (chunks: AsyncIterable<Uint8Array>) {
    for await (const chunk of chunks) { received += chunk.byteLength; yield chunk }
  }
  const reader = await RecordBatchReader.from(counted(res.body as unknown as AsyncIterable<Uint8Array>))
  for await (const batch of reader) {
    batches++
    const ids = batch.getChild('id')!
    const notes = batch.getChild('note')!
    for (let k = 0; k < batch.numRows; k += 997) {
      if (Number(ids.get(k)) !== rows + k || notes.get(k) !== note(rows + k)) wrong++
    }
    if (Number(ids.get(batch.numRows - 1)) !== rows + batch.numRows - 1) wrong++
    rows += batch.numRows
  }
  run.reading = false
  await Promise.all([sampler, prober])
  const lag = await lagMax()

  t.equal(rows, ROWS, 'exactly a million rows')
  t.equal(wrong, 0, 'ids 0…999,999 in order with their notes')
  t.ok(batches > 1, `${batches} batches streamed`)
  const growth = peak - baseline
  const worst = Math.max(...probes)
  const median = probes.slice().sort((a, b) => a - b)[probes.length >> 1]
  t.comment(`answer ${(received / 1048576).toFixed(0)} MiB (ingested ${(answerBytes / 1048576).toFixed(0)} MiB of Arrow) in ${batches} batches; gateway RSS ${baseline.toFixed(0)} → peak ${peak.toFixed(0)} MiB (+${growth.toFixed(0)}); /healthz ${probes.length} probes, median ${median.toFixed(0)} ms, worst ${worst.toFixed(0)} ms; gateway event-loop delay max ${lag.toFixed(0)} ms`)
  t.ok(received > 200 * 1048576, 'the answer is over 200 MiB')
  // Measured (coverage on, this session) +71 to +116 MiB on Node 20 and +85 to +103 on Node 22,
  // against the 120 it was held to; a gateway building the answer whole would hold at least its
  // 217 MiB. 150 leaves both room and stays well under the answer.
  t.ok(growth < 150, `RSS growth ${growth.toFixed(0)} MiB stays well under the answer's size`)
  // Both include this 2-core machine's scheduling: at a load average of ~20 (eight engineers'
  // tests) one run measured a median of 510 ms and a 1,080 ms event-loop delay, a quieter one a
  // worst probe of 1,045 ms. Building or decoding the 217 MiB answer on the event loop would stall
  // it for seconds even unloaded (~9 ms per fresh MiB here), so the bounds stay meaningful.
  t.ok(median < 1000, `/healthz median ${median.toFixed(0)} ms while the read runs`)
  t.ok(lag < 2500, `the gateway's event loop never stalled 2.5 s (max delay ${lag.toFixed(0)} ms)`)
})
