import t, { type Test as Tap } from 'tap'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { makeNdjson } from '../helpers/arrow.ts'

const FIELDS = [{ name: 'id', type: 'int64', nullable: false }, { name: 'name', type: 'string', nullable: true }, { name: 'price', type: 'double', nullable: true }, { name: 'ts', type: 'timestamp[us, tz=UTC]', nullable: true }, { name: 'ok', type: 'bool', nullable: true }]
const NDJSON = 'application/x-ndjson'

/** Row count per id of every committed object of topic `t`, read back from Parquet with DuckDB. */
async function stored (dataDir: string): Promise<Map<number, number>> {
  const db = await DuckDBInstance.create(':memory:')
  const con = await db.connect()
  try {
    const r = await con.runAndReadAll(`SELECT id, count(*) AS n FROM read_parquet('${dataDir}/t/**/*.parquet') GROUP BY id ORDER BY id`)
    return new Map(r.getRowObjects().map((row) => [Number(row.id), Number(row.n)]))
  } catch (err) {
    if (/No files found/.test(String(err))) return new Map()
    throw err
  } finally {
    con.closeSync()
  }
}

async function setup (t: Tap, env: Record<string, string> = {}) {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'quiver-keys-http-'))
  if (!env.DATA_DIR) t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const { app } = await buildApp(t, { DATA_DIR: dataDir, ...env })
  const admin = localToken(dataDir, ['admin'])
  if (!env.DATA_DIR) {
    const res = await app.inject({ method: 'POST', url: '/v1/topics', headers: { authorization: `Bearer ${admin}` }, payload: { name: 't', schema: { fields: FIELDS } } })
    t.equal(res.statusCode, 201)
  }
  const send = (key: string | undefined, body: string, o: { who?: string, ack?: string } = {}) => app.inject({
    method: 'POST',
    url: `/v1/topics/t/records${o.ack ? `?ack=${o.ack}` : ''}`,
    headers: { authorization: `Bearer ${localToken(dataDir, ['write'], { subject: o.who ?? 'alice' })}`, 'content-type': NDJSON, ...(key === undefined ? {} : { 'idempotency-key': key }) },
    payload: body
  })
  return { app, dataDir, send }
}

const ok = (rows: number, bytes: number, ack = 'durable') => ({ topic: 't', rows, batches: 1, bytes, ack })

t.test('replay, reuse with another body, other principal, malformed keys', async (t) => {
  const { dataDir, send } = await setup(t)
  const body = makeNdjson(3, 0)
  const first = await send('order-1', body)
  t.equal(first.statusCode, 200)
  t.same(first.json(), ok(3, body.length))
  t.equal(first.headers['idempotent-replayed'], undefined, 'the first answer has no replay header')
  const again = await send('order-1', body)
  t.equal(again.statusCode, 200)
  t.same(again.json(), first.json(), 'the original answer')
  t.equal(again.headers['idempotent-replayed'], 'true')
  const other = await send('order-1', makeNdjson(3, 100))
  t.equal(other.statusCode, 422)
  t.same(other.json(), { statusCode: 422, code: 'QUIVER_IDEMPOTENCY_KEY_REUSED', error: 'Unprocessable Entity', message: 'This Idempotency-Key was used for another request (body, content type or ack differ)' })
  t.equal((await send('order-1', body, { ack: 'accepted' })).statusCode, 422, 'another ack is another request')
  const bob = await send('order-1', makeNdjson(2, 200), { who: 'bob' })
  t.equal(bob.statusCode, 200, 'keys are per principal')
  t.equal(bob.headers['idempotent-replayed'], undefined)
  for (const bad of ['', 'x'.repeat(256), 'has space', 'é']) {
    const res = await send(bad, body)
    t.equal(res.statusCode, 400, JSON.stringify(bad))
    t.equal(res.json().code, 'QUIVER_INVALID_IDEMPOTENCY_KEY')
  }
  t.same([...await stored(dataDir)], [[0, 1], [1, 1], [2, 1], [200, 1], [201, 1]], 'each row exactly once')
})

t.test('a repeat while the first is in flight (202 not yet committed) gets 409, then the replay', async (t) => {
  const { app, dataDir, send } = await setup(t, { FLUSH_INTERVAL_MS: '600000' })
  const body = makeNdjson(2, 10)
  const first = await send('k', body, { ack: 'accepted' })
  t.equal(first.statusCode, 202)
  const dup = await send('k', body, { ack: 'accepted' })
  t.equal(dup.statusCode, 409)
  t.equal(dup.headers['retry-after'], '1')
  t.same(dup.json(), { statusCode: 409, code: 'QUIVER_IDEMPOTENCY_IN_FLIGHT', error: 'Conflict', message: 'A request with this Idempotency-Key is still being processed; retry shortly' })
  const flush = await app.inject({ method: 'POST', url: '/v1/admin/flush', headers: { authorization: `Bearer ${localToken(dataDir, ['admin'])}` } })
  t.equal(flush.statusCode, 200)
  let replay = await send('k', body, { ack: 'accepted' })
  // The commit mark is written right after the flush: until then the claim's objects prove it.
  for (let i = 0; replay.statusCode === 409 && i < 100; i++) replay = await send('k', body, { ack: 'accepted' })
  t.equal(replay.statusCode, 202)
  t.same(replay.json(), ok(2, body.length, 'accepted'))
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.same([...await stored(dataDir)], [[10, 1], [11, 1]])
})

t.test('a staged request (too large to buffer) names its object in its claim, lists its key in the footer, and replays', async (t) => {
  // A 64 KiB threshold: the ~2.7 MB body is staged as its own object, not buffered.
  const { dataDir, send } = await setup(t, { FLUSH_MAX_BYTES: String(64 * 1024) })
  const body = makeNdjson(30_000, 0)
  const first = await send('big', body)
  t.equal(first.statusCode, 200, first.body)
  t.match(first.json(), { topic: 't', rows: 30_000, bytes: body.length, ack: 'durable' })
  const again = await send('big', body)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.same(again.json(), first.json())
  const objects = (readdirSync(join(dataDir, 't'), { recursive: true, encoding: 'utf8' })).filter((f) => f.endsWith('.parquet')).map((f) => `t/${f}`)
  t.equal(objects.length, 1, 'one object')
  const scopes = readdirSync(join(dataDir, '_idempotency', 't'))
  t.equal(scopes.length, 1)
  const claim = JSON.parse(readFileSync(join(dataDir, '_idempotency', 't', scopes[0], '0000000001.json'), 'utf8'))
  const dir = objects[0].slice(2, objects[0].lastIndexOf('/'))
  // (Its `committed` mark follows the answer unawaited: the object named here already decides.)
  t.match(claim, { dirs: [dir], objects: [{ key: objects[0], dir }], reply: { status: 200, body: first.json() }, hash: /^[0-9a-f]{64}$/ })
  const db = await DuckDBInstance.create(':memory:')
  const con = await db.connect()
  t.teardown(() => con.closeSync())
  const kv = (await con.runAndReadAll(`SELECT decode(value) AS v FROM parquet_kv_metadata('${join(dataDir, objects[0])}') WHERE decode(key) = 'quiver.idempotency_keys'`)).getRowObjectsJS()
  t.same(kv, [{ v: `${scopes[0]}:1` }], 'the footer lists the key')
  t.equal((await stored(dataDir)).size, 30_000, 'every row')
  t.same([...(await stored(dataDir)).values()].filter((n) => n !== 1), [], 'each once')
})

t.test('a failed request leaves its key free', async (t) => {
  const { send } = await setup(t)
  const bad = await send('k', '{"id": "not a number"}\n')
  t.equal(bad.statusCode, 400)
  const good = await send('k', makeNdjson(1, 0))
  t.equal(good.statusCode, 200)
  t.equal(good.headers['idempotent-replayed'], undefined)
})

t.test('keys hold across a graceful restart and between two instances sharing the storage', async (t) => {
  const first = await setup(t)
  const body = makeNdjson(2, 50)
  t.equal((await first.send('r', body)).statusCode, 200)
  const second = await setup(t, { DATA_DIR: first.dataDir })
  const other = await second.send('r', body)
  t.equal(other.statusCode, 200)
  t.equal(other.headers['idempotent-replayed'], 'true', 'another instance on the same storage replays')
  await first.app.close()
  const third = await setup(t, { DATA_DIR: first.dataDir })
  t.equal((await third.send('r', body)).headers['idempotent-replayed'], 'true', 'after a restart')
  t.equal((await third.send('r', makeNdjson(2, 60))).statusCode, 422, 'and still tells another body apart')
  t.same([...await stored(first.dataDir)], [[50, 1], [51, 1]])
})

t.test('a key is forgotten after IDEMPOTENCY_TTL_S (exact boundaries: idempotency-store.test.ts, injected clock)', async (t) => {
  const { dataDir, send } = await setup(t, { IDEMPOTENCY_TTL_S: '1' })
  const body = makeNdjson(2, 70)
  t.equal((await send('ttl', body)).statusCode, 200)
  // Poll until the key is forgotten: each answer is checked, no sleep decides anything.
  let res = await send('ttl', body)
  const deadline = Date.now() + 30_000
  while (res.headers['idempotent-replayed'] === 'true' && Date.now() < deadline) res = await send('ttl', body)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['idempotent-replayed'], undefined, 'processed as new after the TTL')
  t.same([...await stored(dataDir)], [[70, 2], [71, 2]], 'stored again once forgotten, exactly twice')
})

t.test('the OpenAPI document describes the key, the replay header and the 409/422 answers', async (t) => {
  const { app } = await setup(t)
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  const op = doc.paths['/v1/topics/{topic}/records'].post
  const header = op.parameters.find((p: { in: string, name: string }) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key')
  t.match(header, { required: false, schema: { type: 'string' }, description: /1 to 255 visible ASCII.*QUIVER_INVALID_IDEMPOTENCY_KEY/ })
  for (const status of ['200', '202']) t.match(op.responses[status].headers, { 'Idempotent-Replayed': { schema: { type: 'string', enum: ['true'] } } }, status)
  t.match(op.responses['409'], { description: /^QUIVER_IDEMPOTENCY_IN_FLIGHT/, headers: { 'Retry-After': { schema: { type: 'integer' } } } })
  t.match(op.responses['422'].description, /^QUIVER_IDEMPOTENCY_KEY_REUSED/)
  t.match(op.responses['400'].description, /QUIVER_INVALID_IDEMPOTENCY_KEY/)
  t.match(op.responses['409'].content['application/json'].schema, { required: ['statusCode', 'code', 'error', 'message'] })
})
