import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { connect, Socket, type AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { makeData, RecordBatch, RecordBatchStreamWriter, Struct, tableToIPC, Table } from 'apache-arrow'
import buildGetJwks from 'get-jwks'
import t from 'tap'
import { WebSocket, WebSocketServer } from 'ws'
import { batchOf } from '../src/arrow/batch.ts'
import { writeIpcStream } from '../src/arrow/encode.ts'
import { makeBatch, TEST_ARROW_SCHEMA } from './helpers/arrow.ts'

// Every private internal of a dependency (or of Node) that src/ relies on, each checked against
// the installed version. When one fails, the use named in its test must change. The packages are
// pinned exactly in package.json for that reason (apache-arrow, ws, get-jwks).

t.test('apache-arrow RecordBatch: batchOf (src/arrow/batch.ts) sets the fields the constructor sets', async (t) => {
  const source = makeBatch(3)
  const real = new RecordBatch(TEST_ARROW_SCHEMA, makeData({ type: new Struct(TEST_ARROW_SCHEMA.fields), length: 3, nullCount: 0, children: source.data.children }))
  t.same(Object.keys(real).sort(), ['_metadata', 'data', 'schema'], 'own fields of a RecordBatch')
  t.type((real as unknown as { _metadata: unknown })._metadata, Map)
  const ours = batchOf(TEST_ARROW_SCHEMA, source.data.children, 3)
  t.same(Object.keys(ours).sort(), Object.keys(real).sort())
  t.equal(ours.schema, TEST_ARROW_SCHEMA, 'the very schema object (why batchOf exists)')
  t.same(ours.toArray().map((r) => r.toJSON()), real.toArray().map((r) => r.toJSON()))
  t.same(tableToIPC(new Table([ours])), tableToIPC(new Table([real])), 'serialises the same')
})

t.test('apache-arrow stream writer: `_sink._values` holds the chunks (writeIpcStream copies them once)', async (t) => {
  const batch = makeBatch(100)
  const writer = new RecordBatchStreamWriter()
  writer.reset(undefined, TEST_ARROW_SCHEMA)
  writer.write(batch)
  writer.finish()
  const chunks = (writer as unknown as { _sink?: { _values?: unknown } })._sink?._values
  t.ok(Array.isArray(chunks) && chunks.length > 1 && chunks.every((c) => c instanceof Uint8Array), 'an array of byte chunks')
  const joined = Buffer.concat(chunks as Uint8Array[])
  t.same(new Uint8Array(joined), writer.toUint8Array(true), 'their concatenation is the stream')
  let allocated = 0
  const out = writeIpcStream([batch], TEST_ARROW_SCHEMA, (n) => new Uint8Array(allocated = n))
  t.equal(allocated, joined.byteLength, 'one allocation of exactly the stream size')
  t.same(out, new Uint8Array(joined))
})

async function wsPair (t: { teardown: (fn: () => unknown) => void }): Promise<{ server: WebSocket, client: WebSocket }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1024 * 1024 })
  await once(wss, 'listening')
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`)
  const [server] = await once(wss, 'connection') as [WebSocket]
  await once(client, 'open')
  t.teardown(async () => { client.terminate(); wss.close() })
  return { server, client }
}

t.test('ws `_receiver._maxPayload`: the tail socket lowers it (src/ws/tail-session.ts) and ws enforces it', async (t) => {
  const { server, client } = await wsPair(t)
  const receiver = (server as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver
  t.equal(receiver?._maxPayload, 1024 * 1024, 'the server maxPayload, per socket')
  receiver!._maxPayload = 100
  const refused = once(server, 'error') as Promise<[Error & { code?: string }]>
  client.send(Buffer.alloc(101))
  const [[err], [code]] = await Promise.all([refused, once(client, 'close') as Promise<[number]>])
  t.equal(err.code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'refused from the frame header')
  t.equal(code, 1009, 'a frame over the lowered limit closes with 1009 (message too big)')
})

t.test('ws unmasks client frames with bufferutil (an optional dependency), not its byte-by-byte fallback', async (t) => {
  // Every byte a producer sends over WebSocket is masked; ws's JavaScript fallback unmasks at
  // ~600 MiB/s here, bufferutil at ~18 GiB/s. Without it, 1,000 producers at 2 M rows/s spent
  // 18 % of the main thread unmasking (test/bench/README.md, session 10).
  const require = createRequire(import.meta.url)
  const bufferUtil = require(join(dirname(require.resolve('ws')), 'lib', 'buffer-util.js')) as { unmask: (b: Buffer, m: Buffer) => void }
  t.not(bufferUtil.unmask.name, '_unmask', 'ws picked up bufferutil when it loaded')
  t.type((require('bufferutil') as { unmask?: unknown }).unmask, 'function', 'bufferutil loads (its prebuilt binary, or one built at install)')
  const { server, client } = await wsPair(t)
  const payload = Buffer.alloc(1000 * 1024 + 3)
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff
  const got = once(server, 'message') as Promise<[Buffer]>
  client.send(payload)
  const [data] = await got
  t.ok(Buffer.compare(data, payload) === 0, 'a masked ~1 MB frame arrives intact')
})

t.test('ws `_socket`: the TCP socket the ingest session corks (src/ws/ingest-session.ts)', async (t) => {
  const { server, client } = await wsPair(t)
  const raw = (server as unknown as { _socket?: Socket })._socket
  t.type(raw, Socket)
  raw!.cork()
  server.send('a')
  server.send('b')
  t.equal(raw!.writableCorked, 1, 'sends wait while corked')
  const got: string[] = []
  client.on('message', (m) => got.push(String(m)))
  setImmediate(() => raw!.uncork())
  await new Promise<void>((resolve) => client.on('message', () => { if (got.length === 2) resolve() }))
  t.same(got, ['a', 'b'])
})

t.test('node http: `socket._httpMessage` (src/http/client-error.ts), `destroySoon`, `_dump` and `_handle.readStart` (src/http/linger.ts)', async (t) => {
  let seen: { message: unknown, res: ServerResponse } | null = null
  let destroySoonCalled = false
  let internals: Record<string, string> = {}
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen = { message: (req.socket as Socket & { _httpMessage?: unknown })._httpMessage, res }
    // linger.ts drains a refused body with these: Node's own discard, and the socket's handle.
    internals = {
      dump: typeof (req as IncomingMessage & { _dump?: unknown })._dump,
      reading: typeof (req.socket as Socket & { _handle?: { reading?: unknown } })._handle?.reading,
      readStart: typeof (req.socket as Socket & { _handle?: { readStart?: unknown } })._handle?.readStart
    }
    const original = req.socket.destroySoon
    req.socket.destroySoon = function (this: Socket) { destroySoonCalled = true; return original.call(this) }
    res.writeHead(200, { connection: 'close' }).end('ok')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1')
  socket.end('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  socket.resume()
  await once(socket, 'close')
  t.ok(seen !== null)
  t.equal(seen!.message, seen!.res, 'the socket points at the response under way')
  t.ok(seen!.res.headersSent)
  t.ok(destroySoonCalled, 'a connection: close answer ends through socket.destroySoon()')
  t.same(internals, { dump: 'function', reading: 'boolean', readStart: 'function' }, 'IncomingMessage#_dump, the socket handle\'s reading and readStart()')
})

// src/auth/jwks.ts uses get-jwks as its key cache and relies on these of its internals (then
// revisit createRemoteKeyStore).
t.test('get-jwks internals relied on by the key store', async (t) => {
  const jwks = buildGetJwks({ ttl: 60_000, max: 10 })
  const key = jwks.generateCacheKey('RS256', 'k1', 'https://issuer.example/')
  t.equal(key, 'RS256:k1:https%3A%2F%2Fissuer.example%2F', 'cache keys: alg, kid, domain')
  // Deleting (or expiring) an entry copies it into staleCache, which getJwk falls back to on any
  // fetch error: the reason the key store disables staleCache.set.
  jwks.cache.set(key, { kid: 'k1' } as never)
  jwks.cache.delete(key)
  t.same(jwks.staleCache.get(key), { kid: 'k1' }, 'delete renews the stale copy (why it is disabled)')
  const patched = buildGetJwks({ ttl: 60_000, max: 10 })
  patched.staleCache.set = () => {}
  patched.cache.set(key, { kid: 'k1' } as never)
  patched.cache.delete(key)
  t.equal(patched.staleCache.get(key), undefined, 'with set disabled nothing stale is kept')
  // The cache is an lru-cache whose remaining TTL bounds how long a verified token is trusted.
  patched.cache.set(key, { kid: 'k1' } as never)
  const left = (patched.cache as unknown as { getRemainingTTL (k: string): number }).getRemainingTTL(key)
  t.ok(left > 59_000 && left <= 60_000, `getRemainingTTL ${left}`)
})
