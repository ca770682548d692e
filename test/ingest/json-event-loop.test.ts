import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parquetMetadata } from 'hyparquet'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { loopProbe } from '../helpers/loop-probe.ts'

/*
 * CONTRACT §13: one request never stalls the event loop (/healthz stays fast). A fast client
 * posting 5,000,000 NDJSON lines of `{}` held a 2-core gateway's loop for 1–2 s at a time: a
 * socket hands over buffered chunks in microtasks, and each line was decoded and parsed without
 * a turn in between. The readers now give the loop a turn every 10 ms (src/arrow/json-slices.ts).
 * Here the body comes as one 6 MB chunk (inject), the worst case of a socket's burst.
 */
// the old readers: 1,277-1,582 ms; now 44-249 ms. Counted as the time the loop's own thread
// worked within a gap (loopProbe's heldMs): wall time alone read 826 ms once beside `npm ci`.
const LIMIT_MS = 600
const LINES = 2_000_000

function storedRows (dir: string): number {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.parquet'))
    .map((f) => readFileSync(join(dir, f)))
    .reduce((n, b) => n + Number(parquetMetadata(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer).num_rows), 0)
}

for (const [name, contentType, body] of [
  ['NDJSON lines', 'application/x-ndjson', () => '{}\n'.repeat(LINES)],
  ['JSON array elements', 'application/json', () => '[' + '{},'.repeat(LINES - 1) + '{}]']
] as const) {
  t.test(`${LINES} ${name} of {} are stored whole without holding the event loop`, async (t) => {
    const { app, dataDir } = await buildApp(t)
    const admin = localToken(dataDir, ['admin'])
    const created = await app.inject({ method: 'POST', url: '/v1/topics', headers: { authorization: `Bearer ${admin}` }, payload: { name: 'lines', schema: { fields: [{ name: 's', type: 'string', nullable: true }] } } })
    t.equal(created.statusCode, 201, created.body)
    const payload = Buffer.from(body())
    const probe = loopProbe()
    // inject hands the body over as one chunk: the reader alone decides how long it works at once
    const res = await app.inject({ method: 'POST', url: '/v1/topics/lines/records', headers: { authorization: `Bearer ${localToken(dataDir, ['write'])}`, 'content-type': contentType }, payload })
    const stall = probe.stop()

    t.equal(res.statusCode, 200, res.body)
    t.same(res.json(), { topic: 'lines', rows: LINES, batches: LINES / 10_000, bytes: payload.byteLength, ack: 'durable' })
    t.equal(storedRows(join(dataDir, 'lines')), LINES, 'every row is in the stored Parquet')
    t.ok(stall.heldMs < LIMIT_MS, `event loop held at most ${stall.heldMs.toFixed(0)} ms (limit ${LIMIT_MS} ms; longest gap ${stall.wallMs.toFixed(0)} ms)`)
  })
}
