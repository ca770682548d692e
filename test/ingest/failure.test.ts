import t from 'tap'
import { startGateway } from '../helpers/gateway.ts'
import { startS3rver } from '../helpers/s3rver.ts'
import { startFaultProxy } from '../helpers/fault-proxy.ts'
import { makeIpcStream, TEST_TOPIC_SCHEMA } from '../helpers/arrow.ts'
import { connect, frames } from '../helpers/ws-client.ts'
import { preparedDataDir } from '../reliability/lib/tokens.ts'

/*
 * One fault, one code, whatever the transport (src/ingest/failure.ts): with every storage call
 * answered 500 by the fault proxy in front of s3rver, an ingest over HTTP and one over WebSocket
 * both meet the failing topic lookup. Before the ingest service, HTTP answered 503
 * QUIVER_STORAGE_UNAVAILABLE and the WebSocket error frame said QUIVER_INTERNAL.
 */
t.test('a storage fault is QUIVER_STORAGE_UNAVAILABLE over HTTP and over WebSocket', async (t) => {
  const s3 = await startS3rver(t)
  const proxy = await startFaultProxy(t, s3.endpoint)
  const { dataDir, token } = preparedDataDir(t)
  const gw = await startGateway(t, { ...s3.env, S3_ENDPOINT: proxy.url, DATA_DIR: dataDir, LOCAL_TOKEN_REVOCATION_POLL_S: '600' })
  const writer = token(['write'])
  proxy.mode({ status: 500, body: '<Error><Code>InternalError</Code></Error>' })

  const res = await fetch(`${gw.url}/v1/topics/faulty/records`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' }, body: Buffer.from(makeIpcStream(5)) })
  t.equal(res.status, 503)
  t.equal(res.headers.get('retry-after'), '2')
  t.same(await res.json(), { statusCode: 503, code: 'QUIVER_STORAGE_UNAVAILABLE', error: 'Service Unavailable', message: 'Storage is failing; the data was not committed, retry shortly' })

  const ws = await connect(`${gw.url.replace('http', 'ws')}/v1/topics/faulty/stream`, ['quiver.v1', `bearer.${writer}`])
  const f = frames(ws)
  ws.send(makeIpcStream(5))
  t.same(await f.next(1, 60_000), [{ type: 'error', seq: 1, code: 'QUIVER_STORAGE_UNAVAILABLE', message: 'Storage is failing; the data was not committed, retry shortly' }])
  ws.close()

  proxy.mode('pass')
  t.same(await s3.listKeys('faulty/'), [], 'nothing stored')
})

/*
 * The same with the topic known and only storage writes failing (PUT/POST answered 500): a
 * buffered flush over HTTP (durable), a staged large request (its own object, committed through
 * the same commit path: src/pipeline/commit.ts) and a WebSocket message all get the same code.
 */
t.test('a failing storage write is QUIVER_STORAGE_UNAVAILABLE for buffered, staged and WebSocket ingest alike', async (t) => {
  const s3 = await startS3rver(t)
  const proxy = await startFaultProxy(t, s3.endpoint)
  const { dataDir, token } = preparedDataDir(t)
  const gw = await startGateway(t, { ...s3.env, S3_ENDPOINT: proxy.url, DATA_DIR: dataDir, LOCAL_TOKEN_REVOCATION_POLL_S: '600', FLUSH_INTERVAL_MS: '100', FLUSH_MAX_BYTES: String(1024 * 1024) })
  const writer = token(['write'])
  const created = await fetch(`${gw.url}/v1/topics`, { method: 'POST', headers: { authorization: `Bearer ${token(['admin'])}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'faulty', schema: TEST_TOPIC_SCHEMA }) })
  t.equal(created.status, 201)
  proxy.mode({ status: 500, body: '<Error><Code>InternalError</Code></Error>', methods: ['PUT', 'POST'] })
  const unavailable = { statusCode: 503, code: 'QUIVER_STORAGE_UNAVAILABLE', error: 'Service Unavailable', message: 'Storage is failing; the data was not committed, retry shortly' }
  const post = async (body: Uint8Array) => await fetch(`${gw.url}/v1/topics/faulty/records`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' }, body: Buffer.from(body) })

  const small = await post(makeIpcStream(5))
  t.equal(small.status, 503)
  t.same(await small.json(), unavailable, 'buffered request')

  const large = makeIpcStream(60_000, { start: 100 })
  t.ok(large.byteLength > 1024 * 1024, 'over the staging threshold')
  const staged = await post(large)
  t.equal(staged.status, 503)
  t.same(await staged.json(), unavailable, 'staged request')

  const ws = await connect(`${gw.url.replace('http', 'ws')}/v1/topics/faulty/stream`, ['quiver.v1', `bearer.${writer}`])
  const f = frames(ws)
  ws.send(makeIpcStream(5, { start: 1_000_000 }))
  t.same(await f.next(1, 120_000), [{ type: 'error', seq: 1, code: unavailable.code, message: unavailable.message }], 'WebSocket message')
  ws.close()

  proxy.mode('pass')
  t.same((await s3.listKeys('faulty/')).filter((k) => k.endsWith('.parquet')), [], 'nothing stored')
})
