import t from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import WebSocket from 'ws'
import { listeningApp } from '../e2e/ingest-helpers.ts'
import { makeIpcStream } from '../helpers/arrow.ts'
import { frames, localRows } from '../helpers/ws-client.ts'

/*
 * What the reservation counts is what the gateway holds: a message acked (its rows committed, its
 * bytes released) is garbage. The session's sequence chain kept the last message it accepted as
 * its settled value, so every producer waiting for room for its next frame held one whole
 * message beyond MAX_BUFFERED_BYTES: 16 producers of 3 × 40 MiB at a 64 MiB budget reached
 * 716 MiB of ArrayBuffers (911 MiB RSS) with at most 42 MB reserved.
 *
 * Measured after a full collection at every ack the producers receive (the gateway runs in this
 * process), against the same measure taken before the load: live ArrayBuffers may exceed it by
 * the budget (frames being read, rows buffered), a message in hand and the encoder's reused
 * buffers growing by about as much (10.5 MiB measured), not by a message per producer (38 MiB
 * before). Producers send with a zero mask so that ws does not copy their messages here.
 */
const CAP = 8 * 1024 * 1024
const PRODUCERS = 8
const MESSAGES = 3
const ROWS = 110_000 // ~4.2 MB a message: 8 producers × 3 are 12 × the budget

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const liveArrayBuffers = (): number => { gc(); return process.memoryUsage().arrayBuffers }

function producer (url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['quiver.v1'], { perMessageDeflate: false, generateMask: (mask) => mask.fill(0) })
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

t.test(`${PRODUCERS} WebSocket producers of ${MESSAGES} × 4 MB messages, all sent at once: live ArrayBuffers stay within the budget (${CAP / 1048576} MiB) and two messages`, async (t) => {
  const gw = await listeningApp(t, { MAX_BUFFERED_BYTES: String(CAP) })
  const url = `${gw.base.replace('http', 'ws')}/v1/topics/events/stream?access_token=${gw.writer}`
  const messages = Array.from({ length: PRODUCERS * MESSAGES }, (_, i) => makeIpcStream(ROWS, { start: i * ROWS, batchRows: ROWS }))
  const size = messages[0].byteLength

  // Two messages first: the encoder threads and the pipeline's reused buffers (src/pipeline/shared-slabs.ts)
  // have grown to their size for such messages before the baseline.
  const warm = await producer(url)
  const warmed = frames(warm)
  for (let m = 0; m < 2; m++) warm.send(makeIpcStream(ROWS, { start: (PRODUCERS * MESSAGES + m) * ROWS, batchRows: ROWS }))
  await warmed.next(2, 120_000)
  warm.close()

  const sockets = await Promise.all(Array.from({ length: PRODUCERS }, () => producer(url)))
  t.teardown(() => { for (const ws of sockets) ws.terminate() })
  const baseline = liveArrayBuffers()
  let peak = 0
  for (const ws of sockets) ws.on('message', () => { peak = Math.max(peak, liveArrayBuffers() - baseline) })
  const answers = sockets.map((ws) => frames(ws))
  sockets.forEach((ws, p) => { for (let m = 0; m < MESSAGES; m++) ws.send(messages[p * MESSAGES + m]) })
  for (const a of answers) {
    const got = await a.next(MESSAGES, 120_000)
    t.same(got.map((f) => [f.type, f.seq, f.rows]), Array.from({ length: MESSAGES }, (_, i) => ['ack', i + 1, ROWS]))
  }

  const bound = CAP + 2 * size
  t.ok(peak <= bound, `live ArrayBuffers at most ${(peak / 1048576).toFixed(1)} MiB over the baseline (bound ${(bound / 1048576).toFixed(1)} MiB; a message per producer would be ${(PRODUCERS * size / 1048576).toFixed(1)} MiB)`)
  const stats = (await (await fetch(`${gw.base}/v1/admin/stats`, { headers: { authorization: `Bearer ${gw.admin}` } })).json()) as { admission: { peakBytes: number } }
  t.ok(stats.admission.peakBytes <= CAP, `held at most ${(stats.admission.peakBytes / 1048576).toFixed(1)} MiB of ${CAP / 1048576} MiB`)
  t.equal(localRows(gw.dataDir, 'events').length, (PRODUCERS * MESSAGES + 2) * ROWS, 'every row stored')
})
