import t from 'tap'
import { readFileSync } from 'node:fs'
import { startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { makeIpcStream } from '../helpers/arrow.ts'
import { closed, connect, type Refusal } from '../helpers/ws-client.ts'

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024

t.test('tail sockets: 4 KiB client frames, 1008 on token expiry, connections per principal bounded', async (t) => {
  const gw = await startGateway(t, { WS_MAX_CONNECTIONS_PER_SUB: '3' })
  const ws = gw.url.replace('http', 'ws')
  const reader = localToken(gw.dataDir, ['read'], { subject: 'reader' })
  const tail = (token = reader) => connect(`${ws}/v1/topics/t/tail`, ['quiver.v1', `bearer.${token}`])

  // Warm the encoder threads first (they load parquet-wasm after listen): RSS is steady afterwards.
  const writer = localToken(gw.dataDir, ['write'])
  const ingest = await fetch(`${gw.url}/v1/topics/t/records`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' }, body: Buffer.from(makeIpcStream(10)) })
  t.equal(ingest.status, 200)

  // A 4 KiB frame is ignored; one byte more closes with 1009.
  const small = await tail()
  const smallClosed = closed(small)
  small.send(Buffer.alloc(4096))
  small.send(Buffer.alloc(4097))
  t.equal((await smallClosed).code, 1009)

  // Three readers each sending a 64 MiB frame: the gateway's RSS must not follow (before: +450 MiB).
  const before = rssMiB(gw.proc.pid!)
  const big = await Promise.all([tail(), tail(), tail()])
  const codes = await Promise.all(big.map(async (s) => {
    const done = closed(s)
    s.send(Buffer.alloc(64 * 1024 * 1024, 7))
    return (await done).code
  }))
  // 1009 unless the server's close races the client's own sending (then the client sees 1006).
  t.ok(codes.every((c) => c === 1009 || c === 1006), `closed: ${codes.join(', ')}`)
  const after = rssMiB(gw.proc.pid!)
  t.ok(after - before < 64, `gateway RSS ${before.toFixed(0)} → ${after.toFixed(0)} MiB`)

  // Per principal: 3 open, the 4th refused before the upgrade; another principal is unaffected.
  const open = await Promise.all([tail(), tail(), tail()])
  const refused = await tail().catch((e: Refusal) => e) as Refusal
  t.equal(refused.status, 429)
  t.same(refused.body, { statusCode: 429, code: 'QUIVER_TOO_MANY_CONNECTIONS', error: 'Too Many Requests', message: 'Too many open WebSocket connections for this principal (at most 3)' })
  const other = await tail(localToken(gw.dataDir, ['read'], { subject: 'someone-else' }))
  t.equal(other.readyState, 1)
  await Promise.all([...open, other].map(async (s) => { const d = closed(s); s.close(); await d }))
  // Closed sockets give their places back.
  const again = await tail()
  t.equal(again.readyState, 1)
  const d = closed(again)
  again.close()
  await d

  // A token that expires in 2 s: the tail closes with 1008 soon after.
  const short = localToken(gw.dataDir, ['read'], { subject: 'short', ttlSeconds: 2 })
  const expiresAt = (JSON.parse(Buffer.from(short.split('.')[1], 'base64url').toString()) as { exp: number }).exp * 1000
  const s = await tail(short)
  const end = await closed(s)
  const closedAt = Date.now()
  t.equal(end.code, 1008)
  t.equal(end.reason, 'token expired')
  // Not while the token is valid (1 ms: timers count whole milliseconds); the upper bound only
  // tells a close from none on a slow machine.
  t.ok(closedAt >= expiresAt - 1 && closedAt - expiresAt < 10_000, `closed ${closedAt - expiresAt} ms after the token's expiry`)
})
