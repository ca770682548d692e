import t from 'tap'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { connect } from 'node:net'
import { listeningApp } from '../e2e/ingest-helpers.ts'
import { postChunks } from '../helpers/post-chunks.ts'
import { loopProbe } from '../helpers/loop-probe.ts'

/*
 * MAX_JSON_ROW_BYTES (default 16 MiB) bounds one NDJSON line or JSON array element: a row is
 * joined, parsed and converted in synchronous steps of ~10 ms per MiB, so one 200 MiB string
 * value held the event loop 2-3 s a step (19.6 s for the request) before it was refused or stored.
 * Longer rows are 413 QUIVER_PAYLOAD_TOO_LARGE as soon as they pass the limit, nothing stored.
 */
const MiB = 1024 * 1024
const LIMIT = 1024
const NDJSON = 'application/x-ndjson'
const JSON_ARRAY = 'application/json'

/** A row of exactly `bytes` bytes of JSON text: `{"id":…,"s":"xxx…"}`. */
function row (id: number, bytes: number): string {
  const head = `{"id":${id},"s":"`
  return head + 'x'.repeat(bytes - head.length - 2) + '"}'
}

const tooLong = (what: string, limit: number) => ({
  statusCode: 413,
  code: 'QUIVER_PAYLOAD_TOO_LARGE',
  error: 'Payload Too Large',
  message: `${what} is longer than ${limit} bytes, the longest JSON row read (MAX_JSON_ROW_BYTES)`
})

type App = Awaited<ReturnType<typeof listeningApp>>

async function createTopic (gw: App, name: string): Promise<void> {
  const res = await fetch(`${gw.base}/v1/topics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, schema: { fields: [{ name: 'id', type: 'int64', nullable: false }, { name: 's', type: 'string', nullable: true }] } })
  })
  if (res.status !== 201) throw new Error(`${res.status} ${await res.text()}`)
}

async function storedObjects (gw: App, topic: string): Promise<number> {
  const flushed = await fetch(`${gw.base}/v1/admin/flush`, { method: 'POST', headers: { authorization: `Bearer ${gw.admin}` } })
  if (flushed.status !== 200) throw new Error(`flush: ${flushed.status}`)
  const dir = join(gw.dataDir, topic)
  return existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet')).length : 0
}

t.test('MAX_JSON_ROW_BYTES: a row of exactly the limit is stored; one byte more is 413 naming it, nothing stored', async (t) => {
  const gw = await listeningApp(t, { MAX_JSON_ROW_BYTES: String(LIMIT) })
  const bodies = {
    [NDJSON]: (rows: string[]) => rows.join('\n') + '\n',
    [JSON_ARRAY]: (rows: string[]) => `[${rows.join(',')}]`
  }
  for (const contentType of [NDJSON, JSON_ARRAY] as const) {
    // with a length the body is read in memory; without one (chunked) it takes the staged path
    for (const sized of [true, false]) {
      const name = `${contentType === NDJSON ? 'lines' : 'array'}_${sized ? 'sized' : 'chunked'}`
      await t.test(`${contentType}, ${sized ? 'with Content-Length' : 'chunked'}`, async (t) => {
        await createTopic(gw, `${name}_ok`)
        const ok = Buffer.from(bodies[contentType]([row(1, 20), row(2, LIMIT), row(3, 30)]))
        const stored = await postChunks(`${gw.base}/v1/topics/${name}_ok/records`, gw.writer, [ok], { contentType, length: sized ? ok.byteLength : undefined })
        t.same([stored.status, JSON.parse(stored.body)], [200, { topic: `${name}_ok`, rows: 3, batches: 1, bytes: ok.byteLength, ack: 'durable' }])
        const back = await fetch(`${gw.base}/v1/topics/${name}_ok/records`, { headers: { authorization: `Bearer ${gw.admin}`, accept: NDJSON } })
        const rows = (await back.text()).trim().split('\n').map((l) => JSON.parse(l) as { id: number, s: string })
        t.same(rows.map((r) => [r.id, r.s.length]), [[1, 20 - 15], [2, LIMIT - 15], [3, 30 - 15]], 'the row at the limit read back whole')

        await createTopic(gw, `${name}_over`)
        const over = Buffer.from(bodies[contentType]([row(1, 20), row(2, 40), row(3, LIMIT + 1), row(4, 20)]))
        const refused = await postChunks(`${gw.base}/v1/topics/${name}_over/records`, gw.writer, [over], { contentType, length: sized ? over.byteLength : undefined })
        t.same([refused.status, JSON.parse(refused.body)], [413, tooLong(contentType === NDJSON ? 'line 3' : 'row 2', LIMIT)])
        t.equal(await storedObjects(gw, `${name}_over`), 0, 'nothing of the refused request is stored')
      })
    }
  }
})

t.test('one 200 MiB string value (the default limit, 16 MiB): refused once the row passes it, the event loop never held long', async (t) => {
  const gw = await listeningApp(t)
  await createTopic(gw, 'huge')
  const sent = { bytes: 0 }
  const chunk = Buffer.alloc(MiB, 0x78)
  function * body (): Generator<Buffer> {
    const parts = [Buffer.from('{"id":1,"s":"a"}\n{"id":2,"s":"'), ...Array.from({ length: 200 }, () => chunk), Buffer.from('"}\n')]
    for (const p of parts) { sent.bytes += p.byteLength; yield p }
  }
  const probe = loopProbe()
  const res = await postChunks(`${gw.base}/v1/topics/huge/records`, gw.writer, body(), { contentType: NDJSON })
  const stall = probe.stop()
  t.same([res.status, JSON.parse(res.body)], [413, tooLong('line 2', 16 * MiB)])
  t.ok(sent.bytes < 64 * MiB, `answered after ${(sent.bytes / MiB).toFixed(0)} MiB of 200 were sent`)
  // before: 2-3 s a step (join, JSON.parse, UTF-8 encoding into the column)
  t.ok(stall.heldMs < 600, `event loop held at most ${stall.heldMs.toFixed(0)} ms (longest gap ${stall.wallMs.toFixed(0)} ms)`)
  t.equal(await storedObjects(gw, 'huge'), 0, 'nothing stored, not even the first line')
})

t.test('a client still sending when the row is refused reads the 413, not a reset (the refused body is drained, as for a refusal before the body)', async (t) => {
  // Before: leaving the body's loop early destroyed the request and with it the socket, so the
  // client's next write met a reset (EPIPE), seen by most clients instead of the answer.
  const gw = await listeningApp(t)
  await createTopic(gw, 'still_sending')
  const { port } = new URL(gw.base)
  const out = await new Promise<{ errors: string[], answer: string, sent: number }>((resolve) => {
    const errors: string[] = []
    let answer = ''
    let sent = 0
    const socket = connect(Number(port), '127.0.0.1')
    socket.on('data', (d: Buffer) => { answer += d.toString('utf8') })
    socket.on('error', (err) => errors.push(err.message))
    socket.on('close', () => resolve({ errors, answer, sent }))
    socket.write(`POST /v1/topics/still_sending/records HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${gw.writer}\r\ncontent-type: ${NDJSON}\r\ntransfer-encoding: chunked\r\n\r\n`)
    const head = Buffer.from('{"id":1,"s":"a"}\n{"id":2,"s":"')
    socket.write(`${head.byteLength.toString(16)}\r\n`)
    socket.write(head)
    socket.write('\r\n')
    // 24 MiB of one string: past the 16 MiB limit, within what the gateway reads after answering
    const chunk = Buffer.alloc(MiB, 0x78)
    const pump = (): void => {
      while (sent < 24 * MiB && !socket.destroyed) {
        if (answer !== '') return
        socket.write(`${chunk.byteLength.toString(16)}\r\n`)
        socket.write(chunk)
        sent += chunk.byteLength
        if (!socket.write('\r\n')) { socket.once('drain', pump); return }
      }
    }
    pump()
  })
  t.same(out.errors, [], 'no reset while sending')
  const [head, body] = out.answer.split('\r\n\r\n')
  t.equal(head.split('\r\n')[0], 'HTTP/1.1 413 Payload Too Large')
  t.match(head, /\r\nconnection: close\r\n/i)
  t.same(JSON.parse(body), tooLong('line 2', 16 * MiB))
  t.equal(await storedObjects(gw, 'still_sending'), 0)
})
