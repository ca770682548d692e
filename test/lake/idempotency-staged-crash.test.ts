import t, { type Test as Tap } from 'tap'
import { request } from 'node:http'
import { watch, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { ipcMessages, makeIpcStream } from '../helpers/arrow.ts'
import { createTopic, freePort, startGateway, type Gateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { startS3rver } from '../helpers/s3rver.ts'
import { startFaultProxy } from '../helpers/fault-proxy.ts'
import { waitFor } from '../helpers/wait.ts'

// A keyed request too large to buffer is staged as its own object (multipart upload on S3, a temp
// file renamed into place on the local directory). The gateway is killed with SIGKILL right after
// that object became visible and before it could answer: the retry after the restart, same key and
// body, must be answered as a replay and the rows must be stored exactly once.
t.setTimeout(600_000)

const MiB = 1024 * 1024
const ROWS = 400_000
const BATCH_ROWS = 50_000
const CLAIMS = '_idempotency/events/'

// FLUSH_MAX_BYTES puts the staging threshold at 1 MiB; uncompressed Parquet makes the object
// larger than one 8 MiB part, so S3 gets a real multipart upload (and CompleteMultipartUpload).
const baseEnv = (dataDir: string, port: number) => ({ DATA_DIR: dataDir, PORT: String(port), FLUSH_MAX_BYTES: String(MiB), PARQUET_COMPRESSION: 'none', IDEMPOTENCY_LEASE_MS: '1500', LOG_LEVEL: 'warn' })

interface Claim { state: string, objects?: Array<{ key: string }> }

/** Rows start … start+ROWS-1 as an Arrow stream: the schema message, the batches, end-of-stream. */
function bodyOf (start: number): { whole: Buffer, head: Buffer, rest: Buffer } {
  const whole = Buffer.from(makeIpcStream(ROWS, { start, batchRows: BATCH_ROWS }))
  // The schema and two batches: the reader hands on a batch once the next message begins.
  const cut = ipcMessages(whole)[3].start
  return { whole, head: whole.subarray(0, cut), rest: whole.subarray(cut) }
}

/** POSTs `head`, then `rest` once `gate` resolved; resolves with the answer or null when the connection died first. */
function post (gw: Gateway, token: string, key: string, head: Buffer, rest: Buffer, gate: Promise<unknown> = Promise.resolve()): Promise<{ status: number, replayed: string | undefined, body: string } | null> {
  return new Promise((resolve) => {
    const req = request(`${gw.url}/v1/topics/events/records`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.apache.arrow.stream', 'idempotency-key': key, 'content-length': head.byteLength + rest.byteLength }
    }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode!, replayed: res.headers['idempotent-replayed'] as string | undefined, body }))
      res.on('error', () => resolve(null))
    })
    req.on('error', () => resolve(null))
    req.write(head)
    gate.then(() => req.end(rest), () => req.destroy())
  })
}

/** The retry a producer makes: the same key and body until the answer is not 409 (the dead gateway's lease). */
async function retry (gw: Gateway, token: string, key: string, body: Buffer) {
  for (let attempt = 0; ; attempt++) {
    const res = await post(gw, token, key, body, Buffer.alloc(0))
    if (res !== null && res.status !== 409) return res
    if (attempt > 200) throw new Error(`still ${res?.status ?? 'no answer'} after ${attempt} retries`)
    await new Promise((resolve) => setTimeout(resolve, 100)) // a producer's retry backoff, not synchronisation
  }
}

/** Per key: rows, distinct ids, sum of ids, and one row's values, over every object of the topic. */
async function stored (t: Tap, parquetDir: string, start: number) {
  const db = await DuckDBInstance.create(':memory:')
  const con = await db.connect()
  t.teardown(() => { con.closeSync(); db.closeSync() })
  const files = `read_parquet('${parquetDir}/events/**/*.parquet')`
  const mid = start + 123_457
  const [agg] = (await con.runAndReadAll(`SELECT count(*)::VARCHAR AS n, count(DISTINCT id)::VARCHAR AS ids, sum(id)::VARCHAR AS sum FROM ${files} WHERE id >= ${start} AND id < ${start + ROWS}`)).getRowObjectsJS()
  const rows = (await con.runAndReadAll(`SELECT id::VARCHAR AS id, name, price, ok FROM ${files} WHERE id = ${mid}`)).getRowObjectsJS()
  return { ...agg, rows }
}

/** What the rows start … start+ROWS-1 stored exactly once read back as. */
function once (start: number) {
  const mid = start + 123_457
  const sum = BigInt(ROWS) * BigInt(start) + BigInt(ROWS) * BigInt(ROWS - 1) / 2n
  return { n: String(ROWS), ids: String(ROWS), sum: String(sum), rows: [{ id: String(mid), name: `name-${mid}`, price: mid * 1.5, ok: mid % 2 === 0 }] }
}

const expectedAnswer = (body: Buffer) => ({ topic: 'events', rows: ROWS, batches: ROWS / BATCH_ROWS, bytes: body.byteLength, ack: 'durable' })

t.test('S3: killed after CompleteMultipartUpload, before answering: the retry is a replay, rows stored once', async (t) => {
  const s3 = await startS3rver(t)
  const proxy = await startFaultProxy(t, s3.endpoint)
  const dataDir = mkdtempSync(join(tmpdir(), 'quiver-staged-crash-s3-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const env = { ...baseEnv(dataDir, await freePort()), ...s3.env, S3_ENDPOINT: proxy.url }
  let gw = await startGateway(t, env)
  await createTopic(gw)
  const writer = localToken(dataDir, ['write'], { subject: 'producer' })
  const body = bodyOf(0)

  // The proxy lets s3rver complete the object, then kills the gateway before it hears so.
  let completed: string | null = null
  proxy.mode({
    answer: async ({ method, path, status }) => {
      if (!(method === 'POST' && path.startsWith(`/${s3.bucket}/events/`) && path.includes('uploadId=') && status === 200)) return 'pass'
      completed = path
      gw.kill('SIGKILL')
      await gw.exited
      return 'drop'
    }
  })
  const first = await post(gw, writer, 'big-1', body.head, body.rest)
  t.equal(first, null, 'the first attempt got no answer')
  t.ok(completed, 'the kill came right after a CompleteMultipartUpload')
  proxy.mode('pass')
  const objects = (await s3.listKeys('events/')).filter((k) => k.endsWith('.parquet'))
  t.equal(objects.length, 1, 'the staged object is in storage')
  const claims = (await s3.listKeys(CLAIMS)).filter((k) => k.endsWith('.json'))
  t.equal(claims.length, 1, 'one claim')
  const claim = JSON.parse(Buffer.from(await s3.getObject(claims[0])).toString('utf8')) as Claim
  t.equal(claim.state, 'open', 'killed before the key was marked committed')

  gw = await startGateway(t, env)
  const again = await retry(gw, writer, 'big-1', body.whole)
  t.equal(again.status, 200, again.body)
  t.equal(again.replayed, 'true', 'answered as a replay')
  t.same(JSON.parse(again.body), expectedAnswer(body.whole))

  const keys = (await s3.listKeys('events/')).filter((k) => k.endsWith('.parquet'))
  t.same(keys, objects, 'no second object')
  // DuckDB cannot read S3 here (no httpfs): the objects are copied out first.
  const out = mkdtempSync(join(tmpdir(), 'quiver-staged-crash-out-'))
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  for (const key of keys) {
    mkdirSync(dirname(join(out, key)), { recursive: true })
    writeFileSync(join(out, key), await s3.getObject(key))
  }
  t.same(await stored(t, out, 0), once(0), 'every row once, values intact')
})

t.test('local directory: killed as the object appears, before answering: the retry is a replay, rows stored once', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'quiver-staged-crash-fs-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const env = baseEnv(dataDir, await freePort())
  let gw = await startGateway(t, env)
  await createTopic(gw)
  const writer = localToken(dataDir, ['write'], { subject: 'producer' })
  const files = (suffix: string) => {
    try {
      return readdirSync(join(dataDir, 'events'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(suffix) || f.split('/').at(-1)!.startsWith(suffix))
    } catch { return [] }
  }
  const claimOf = (): Claim => {
    const dir = join(dataDir, CLAIMS)
    const [scope] = readdirSync(dir)
    const [gen] = readdirSync(join(dir, scope)).filter((f) => f.endsWith('.json')).sort().reverse()
    return JSON.parse(readFileSync(join(dir, scope, gen), 'utf8')) as Claim
  }

  // The rename that makes the object visible and the write that marks the key committed follow
  // each other within milliseconds: the kill may come after both. Such a round still checks the
  // replay; rounds go on until one kill lands between the two (the case this test is about).
  let inWindow = 0
  for (let round = 0; round < 4 && inWindow === 0; round++) {
    const start = round * 1_000_000
    const key = `big-${round}`
    const body = bodyOf(start)
    // The body's rest is sent once the staged object's temp file exists: then its directory is
    // watched, and the gateway is killed the moment the object is renamed into it.
    let release!: () => void
    const gate = new Promise<void>((resolve) => { release = resolve })
    const answer = post(gw, writer, key, body.head, body.rest, gate)
    await waitFor(() => files('.tmp-').length > 0, 'the staged temp file')
    const watcher = watch(dirname(join(dataDir, 'events', files('.tmp-')[0])), (_event, name) => {
      if (name?.endsWith('.parquet') === true) gw.kill('SIGKILL')
    })
    release()
    const first = await answer
    await gw.exited
    watcher.close()
    const objects = files('.parquet')
    t.equal(objects.length, round + 1, `round ${round}: the staged object is in storage`)
    const claim = claimOf()
    if (claim.state === 'open') inWindow++
    t.comment(`round ${round}: first attempt ${first === null ? 'unanswered' : first.status}, claim ${claim.state} at the kill`)

    gw = await startGateway(t, env)
    const again = await retry(gw, writer, key, body.whole)
    t.equal(again.status, 200, again.body)
    // A kill that came after the answer left a 200 behind: its retry is a replay all the same.
    t.equal(again.replayed, 'true', `round ${round}: answered as a replay`)
    t.same(JSON.parse(again.body), expectedAnswer(body.whole))
    t.equal(files('.parquet').length, round + 1, `round ${round}: no second object`)
    t.same(await stored(t, dataDir, start), once(start), `round ${round}: every row once, values intact`)
  }
  t.equal(inWindow, 1, 'a kill landed between the object and the committed mark')
})
