import t from 'tap'
import { listeningApp } from '../e2e/ingest-helpers.ts'
import { makeIpcStream } from '../helpers/arrow.ts'
import { connect, frames, localRows } from '../helpers/ws-client.ts'

/*
 * CONTRACT §13: MAX_BUFFERED_BYTES is a reservation taken before bytes are read, under any
 * concurrency. ws reads a whole message before the session sees it, so pausing sockets once the
 * budget was spent let every socket bring in one more message: 16 producers of 40 MiB messages
 * held 587 MB at a 64 MiB budget (1.4 GiB RSS). Frames are now reserved from their header on
 * (src/ws/reserve-frames.ts): a socket whose next frame does not fit is not read.
 */
const CAP = 24 * 1024 * 1024
const PRODUCERS = 8
const MESSAGES = 2
const ROWS = 220_000 // ~8.4 MB a message: 8 producers × 2 are 5.6 × the budget

t.test(`${PRODUCERS} WebSocket producers of ${MESSAGES} × 8 MB messages, all sent at once: the budget (${CAP / 1048576} MiB) is never exceeded, every row stored once`, async (t) => {
  const gw = await listeningApp(t, { MAX_BUFFERED_BYTES: String(CAP) })
  const url = `${gw.base.replace('http', 'ws')}/v1/topics/events/stream?access_token=${gw.writer}`
  const sockets = await Promise.all(Array.from({ length: PRODUCERS }, () => connect(url)))
  t.teardown(() => { for (const ws of sockets) ws.terminate() })
  const answers = sockets.map((ws) => frames(ws))
  sockets.forEach((ws, p) => {
    for (let m = 0; m < MESSAGES; m++) ws.send(makeIpcStream(ROWS, { start: (p * MESSAGES + m) * ROWS, batchRows: ROWS }))
  })
  for (const a of answers) {
    const got = await a.next(MESSAGES, 120_000)
    t.same(got.map((f) => [f.type, f.seq, f.rows]), Array.from({ length: MESSAGES }, (_, i) => ['ack', i + 1, ROWS]))
  }
  const stats = (await (await fetch(`${gw.base}/v1/admin/stats`, { headers: { authorization: `Bearer ${gw.admin}` } })).json()) as { admission: { peakBytes: number } }
  t.ok(stats.admission.peakBytes <= CAP, `held at most ${(stats.admission.peakBytes / 1048576).toFixed(1)} MiB of ${CAP / 1048576} MiB`)
  const ids = localRows(gw.dataDir, 'events').map((r) => Number(r.id))
  t.equal(ids.length, PRODUCERS * MESSAGES * ROWS, 'every row stored')
  t.equal(new Set(ids).size, ids.length, 'none twice')
})
