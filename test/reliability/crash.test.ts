import t from 'tap'
import { startGateway } from '../helpers/gateway.ts'
import { startS3rver } from '../helpers/s3rver.ts'
import { TEST_TOPIC_SCHEMA } from '../helpers/arrow.ts'
import { preparedDataDir } from './lib/tokens.ts'
import { startProducer, type Ack } from './lib/load.ts'
import { startWsProducer } from './lib/ws-load.ts'
import { readParquetTable } from './lib/parquet.ts'
import { waitFor } from '../helpers/wait.ts'
import { Rng } from './lib/prng.ts'

/*
 * SIGKILL while 4 producers stream with durable acks (2 over HTTP, 2 over WebSocket with several
 * messages in flight), N times on the same S3 bucket (s3rver). Acknowledged means committed: every
 * acked id must be on storage exactly once, every object must be a whole Parquet file.
 * CI: N=3; QUIVER_LONG_TESTS=1: N=20.
 */
const LONG = process.env.QUIVER_LONG_TESTS === '1'
const CYCLES = LONG ? 20 : 3
const HTTP_CLIENTS = 2
const WS_CLIENTS = 2
const CLIENTS = HTTP_CLIENTS + WS_CLIENTS
const TOPIC = 'crash'
const kindOf = (client: number) => client < HTTP_CLIENTS ? 'http' : 'ws'

t.test(`SIGKILL ×${CYCLES} under durable load: every acked row is stored exactly once, every object is whole`, async (t) => {
  const s3 = await startS3rver(t)
  const { dataDir, token } = preparedDataDir(t)
  const env = { ...s3.env, DATA_DIR: dataDir, FLUSH_INTERVAL_MS: '100', LOG_LEVEL: 'warn' }
  const writer = token(['write'], 'crash-writer')
  const rng = new Rng(7)
  const acks: Ack[] = []
  const odd: string[] = []
  const sent = { http: 0, ws: 0 }

  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const gw = await startGateway(t, env, { timeoutMs: 60_000 })
    if (cycle === 0) {
      const res = await fetch(`${gw.url}/v1/topics`, { method: 'POST', headers: { authorization: `Bearer ${token(['admin'])}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: TOPIC, schema: TEST_TOPIC_SCHEMA }) })
      t.equal(res.status, 201)
    }
    const producers = Array.from({ length: CLIENTS }, (_, c) => {
      const idBase = (cycle * CLIENTS + c) * 10_000_000
      return kindOf(c) === 'http' ? startProducer(gw.url, writer, TOPIC, c, idBase) : startWsProducer(gw.url, writer, TOPIC, c, idBase)
    })
    // Let acks flow (every producer has one), then kill at a random moment (mid-flush, mid-upload
    // or idle). The assertion below says which producer had none.
    await waitFor(() => producers.every((p) => p.acks.length > 0), 'an ack for every producer', { timeoutMs: 60_000, everyMs: 50 }).catch(() => {})
    // Kept on purpose: the random delay is the point, a kill that can land anywhere in the work.
    await new Promise((resolve) => setTimeout(resolve, rng.int(50, 900)))
    gw.kill('SIGKILL')
    t.equal(await gw.exited, 'SIGKILL')
    for (const [c, p] of producers.entries()) {
      await p.stop()
      acks.push(...p.acks)
      odd.push(...p.odd)
      sent[kindOf(c)] += p.sent()
    }
    t.ok(producers.every((p) => p.acks.length > 0), `cycle ${cycle}: ${producers.map((p) => p.acks.length).join('/')} acks`)
  }

  // What is on storage, read back whole.
  const keys = (await s3.listKeys(`${TOPIC}/`)).filter((k) => k.endsWith('.parquet'))
  const seen = new Map<number, number>()
  const broken: string[] = []
  for (const key of keys) {
    try {
      const table = readParquetTable(await s3.getObject(key))
      for (const id of table.getChild('id')!.toArray() as BigInt64Array) seen.set(Number(id), (seen.get(Number(id)) ?? 0) + 1)
    } catch (err) {
      broken.push(`${key}: ${(err as Error).message}`)
    }
  }
  const stray = (await s3.listKeys(`${TOPIC}/`)).filter((k) => !k.endsWith('.parquet'))
  t.same(broken, [], `all ${keys.length} objects are valid Parquet`)
  t.same(stray, [], 'no partial or temporary objects are visible under the topic')
  t.same(odd, [], 'every HTTP answer was 200, 503 or a dropped connection; every WebSocket frame an in-order ack or a back-off error')

  const tally = { http: { acks: 0, rows: 0, found: 0 }, ws: { acks: 0, rows: 0, found: 0 } }
  const missing: string[] = []
  for (const a of acks) {
    const k = tally[kindOf(a.client)]
    k.acks++
    for (let id = a.start; id < a.start + a.rows; id++) {
      k.rows++
      if (seen.has(id)) k.found++
      else if (missing.length < 10) missing.push(`${kindOf(a.client)} client ${a.client} id ${id}`)
    }
  }
  const ackedRows = tally.http.rows + tally.ws.rows
  const dupes = [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id}×${n}`)
  t.same(missing, [], 'every acknowledged row is on storage')
  t.same(dupes.slice(0, 10), [], 'no row is stored twice')
  t.ok(tally.http.acks >= CYCLES && tally.ws.acks >= CYCLES, `${tally.http.acks} HTTP acks, ${tally.ws.acks} WebSocket acks`)
  for (const k of ['http', 'ws'] as const) {
    t.comment(`${k}: ${sent[k]} ${k === 'http' ? 'requests' : 'messages'} sent, ${tally[k].acks} acked (${tally[k].rows} rows), ${tally[k].found} of those rows found`)
  }
  t.comment(`${CYCLES} kill cycles survived; ${acks.length} acks (${ackedRows} rows); ${seen.size} rows found in ${keys.length} objects (${seen.size - ackedRows} rows of sends whose ack was lost to a kill)`)

  // The gateway comes back on that storage and serves what survived.
  const gw = await startGateway(t, env, { timeoutMs: 60_000 })
  const topic = await fetch(`${gw.url}/v1/topics/${TOPIC}`, { headers: { authorization: `Bearer ${token(['read'])}` } })
  t.equal(topic.status, 200)
  t.equal(((await topic.json()) as { name: string }).name, TOPIC)
})
