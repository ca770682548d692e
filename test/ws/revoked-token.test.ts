import t, { type Test } from 'tap'
import type { AddressInfo } from 'node:net'
import type WebSocket from 'ws'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { makeIpcStream } from '../helpers/arrow.ts'
import { closed, connect, frames, localRows } from '../helpers/ws-client.ts'
import { startS3rver } from '../helpers/s3rver.ts'

// A revoked token closes the WebSockets it opened (ingest and tail) with 1008, as its expiry does:
// at once on the instance that revoked it, within LOCAL_TOKEN_REVOCATION_POLL_S on the others.
// Before, they carried on until the token expired (up to 7 days).
// A list that cannot be read for three polls closes them with 1013 (the token cannot be checked).
const POLL_S = 1

async function listening (tt: Parameters<typeof buildApp>[0], env: Record<string, string> = {}) {
  const built = await buildApp(tt, { ENCODER_THREADS: '1', LOCAL_TOKEN_REVOCATION_POLL_S: String(POLL_S), ...env })
  await built.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = built.app.server.address() as AddressInfo
  return { ...built, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}/v1/topics` }
}

async function call (base: string, method: string, path: string, token: string, body?: unknown): Promise<{ status: number, body: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text) }
}

/** Resolves with the close, or rejects after `ms`: a socket left open is the failure under test. */
function closedWithin (ws: WebSocket, ms: number, what: string): Promise<{ code: number, reason: string }> {
  return Promise.race([
    closed(ws),
    new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error(`${what} still open after ${ms} ms`)), ms).unref())
  ])
}

/** Both sockets' closes, each rejecting when still open after `ms` (`where` ends the socket's name). */
function bothClosedWithin (ingest: WebSocket, tail: WebSocket, ms: number, where = ''): [Promise<{ code: number, reason: string }>, Promise<{ code: number, reason: string }>] {
  const closes = [closedWithin(ingest, ms, `the ingest socket${where}`), closedWithin(tail, ms, `the tail socket${where}`)] as const
  for (const c of closes) c.catch(() => {})
  return [closes[0], closes[1]]
}

/** A writer's and a reader's minted tokens (through `gw`), a tail and an ingest socket opened with them, the ingest's first 2 rows acked. */
async function mintedSockets (t: Test, gw: { http: string, dataDir: string }, ws: string, topic: string, subject: string) {
  const admin = localToken(gw.dataDir, ['admin'])
  const mint = async (roles: string[]) => (await call(gw.http, 'POST', '/v1/admin/tokens', admin, { subject, roles, ttlSeconds: 3600 })).body as { token: string, jti: string }
  const [w, r] = await Promise.all([mint(['write']), mint(['read'])])
  const tail = await connect(`${ws}/${topic}/tail`, ['quiver.v1', `bearer.${r.token}`])
  const ingest = await connect(`${ws}/${topic}/stream`, ['quiver.v1', `bearer.${w.token}`])
  const acks = frames(ingest)
  ingest.send(makeIpcStream(2))
  t.same(await acks.next(1), [{ type: 'ack', seq: 1, rows: 2 }])
  return { admin, w, r, tail, ingest, acks }
}

const idsOf = (rows: Array<Record<string, unknown>>) => rows.map((r) => Number(r.id)).sort((a, b) => a - b)

t.test('revoked on the same instance: ingest and tail close with 1008, what was accepted is acked, nothing after is stored', async (t) => {
  // Flushes a second apart: the second message's ack is still owed when the revocation lands.
  const gw = await listening(t, { FLUSH_INTERVAL_MS: '1000' })
  const admin = localToken(gw.dataDir, ['admin'])
  const mint = async (roles: string[]) => (await call(gw.http, 'POST', '/v1/admin/tokens', admin, { subject: 'leaked', roles, ttlSeconds: 3600 })).body as { token: string, jti: string }
  const [w, r, other] = await Promise.all([mint(['write']), mint(['read']), mint(['write'])])

  const tail = await connect(`${gw.ws}/rv/tail`, ['quiver.v1', `bearer.${r.token}`])
  let tailed = 0
  let tailWaiter: (() => void) | null = null
  tail.on('message', (_d, isBinary) => { if (isBinary) { tailed++; tailWaiter?.() } })
  const tailCount = (n: number) => new Promise<void>((resolve) => {
    tailWaiter = () => { if (tailed >= n) resolve() }
    tailWaiter()
  })
  const ingest = await connect(`${gw.ws}/rv/stream`, ['quiver.v1', `bearer.${w.token}`])
  const acks = frames(ingest)
  const ingestClosed = closedWithin(ingest, 20_000, 'the revoked ingest socket')
  const tailClosed = closedWithin(tail, 20_000, 'the revoked tail socket')
  ingestClosed.catch(() => {})
  tailClosed.catch(() => {})

  ingest.send(makeIpcStream(2, { start: 0 }))
  t.same(await acks.next(1), [{ type: 'ack', seq: 1, rows: 2 }])
  // The second message is in the pipeline (the tail saw it) but not yet durable: accepted, unacked.
  ingest.send(makeIpcStream(3, { start: 2 }))
  await tailCount(2)
  const unackedAtRevoke = acks.got.length === 1

  t.equal((await call(gw.http, 'DELETE', `/v1/admin/tokens/${w.jti}`, admin)).status, 204)
  // Sent after the revocation, while the socket still owes the second ack: never stored.
  t.equal(ingest.readyState, 1, 'still open: the second message is not durable yet')
  ingest.send(makeIpcStream(4, { start: 100 }))
  t.equal((await call(gw.http, 'DELETE', `/v1/admin/tokens/${r.jti}`, admin)).status, 204)

  t.same(await tailClosed, { code: 1008, reason: 'token revoked' }, 'the tail closes with 1008')
  t.same(await ingestClosed, { code: 1008, reason: 'token revoked' }, 'the ingest socket closes with 1008')
  t.comment(`second message unacked when revoked: ${unackedAtRevoke}`)
  t.same(acks.got.slice(0, 2), [{ type: 'ack', seq: 1, rows: 2 }, { type: 'ack', seq: 2, rows: 3 }], 'what was accepted before is acked')
  t.ok(acks.got.slice(2).every((f) => f.type === 'error' && f.code === 'QUIVER_UNAUTHORIZED'), `nothing after is acked: ${JSON.stringify(acks.got.slice(2))}`)
  t.equal(tailed, 2, 'no tail frame after the revocation')
  // Closed: nothing of the session is pending any more, so what is stored now is all it will store.
  t.same(idsOf(localRows(gw.dataDir, 'rv')), [0, 1, 2, 3, 4], 'the rows acked before the revocation, none after')
  t.equal((await call(gw.http, 'GET', '/v1/whoami', w.token)).status, 401)

  // Another token's socket is untouched; closing it releases its subscription, as the revoked ones did.
  const still = await connect(`${gw.ws}/rv/stream`, ['quiver.v1', `bearer.${other.token}`])
  const stillAcks = frames(still)
  still.send(makeIpcStream(1, { start: 5 }))
  t.same(await stillAcks.next(1), [{ type: 'ack', seq: 1, rows: 1 }])
  t.equal(gw.app.tokenRevocations!.listening(), 1, 'one open socket, one subscription')
  still.close()
  await closed(still)
  t.equal(gw.app.tokenRevocations!.listening(), 0, 'no subscription outlives its socket')
  t.same(idsOf(localRows(gw.dataDir, 'rv')), [0, 1, 2, 3, 4, 5])
})

t.test('revoked on another instance sharing the storage: sockets close within one poll', async (t) => {
  const a = await listening(t, { FLUSH_INTERVAL_MS: '50' })
  const b = await listening(t, { FLUSH_INTERVAL_MS: '50', DATA_DIR: a.dataDir })
  // Minted on a, opened on b, revoked on a.
  const { admin, w, r, tail, ingest } = await mintedSockets(t, a, b.ws, 'rb', 'elsewhere')
  // One poll, plus one read of the list from storage, on a machine that may be slow.
  const [ingestClosed, tailClosed] = bothClosedWithin(ingest, tail, POLL_S * 1000 + 5000, ' on the other instance')

  for (const token of [w, r]) t.equal((await call(a.http, 'DELETE', `/v1/admin/tokens/${token.jti}`, admin)).status, 204)
  const at = Date.now()
  t.same(await Promise.all([ingestClosed, tailClosed]), [{ code: 1008, reason: 'token revoked' }, { code: 1008, reason: 'token revoked' }])
  t.comment(`closed on the other instance ${Date.now() - at} ms after the revocation (LOCAL_TOKEN_REVOCATION_POLL_S=${POLL_S})`)
  t.equal(b.app.tokenRevocations!.listening(), 0, 'the subscriptions went with the sockets')
  t.same(idsOf(localRows(a.dataDir, 'rb')), [0, 1])
})

t.test('a revocation list that cannot be read for three polls closes the sockets of minted tokens with 1013 (fail closed)', async (t) => {
  // Storage (a real s3rver) stops answering: the list can no longer say whether a token was
  // revoked elsewhere. New requests with minted tokens get 503; sockets opened before must not go
  // on trusting them either. Before, they stayed open until the token expired.
  const s3 = await startS3rver(t)
  const gw = await listening(t, { ...s3.env, FLUSH_INTERVAL_MS: '50' })
  const { w, tail, ingest, acks } = await mintedSockets(t, gw, gw.ws, 'rs', 'unverifiable')
  t.same((await s3.listKeys('rs/')).filter((k) => k.endsWith('.parquet')).length, 1, 'the acked message is in one object')

  // Three polls without a successful read, plus a poll and a slow machine.
  const [ingestClosed, tailClosed] = bothClosedWithin(ingest, tail, 4 * POLL_S * 1000 + 5000)
  await s3.stop()
  const at = Date.now()
  const expected = { code: 1013, reason: 'token revocation list unavailable' }
  t.same(await Promise.all([ingestClosed, tailClosed]), [expected, expected])
  t.comment(`closed ${Date.now() - at} ms after storage stopped (LOCAL_TOKEN_REVOCATION_POLL_S=${POLL_S})`)
  t.same(acks.got, [{ type: 'ack', seq: 1, rows: 2 }], 'nothing but the ack of what was stored')
  t.equal(gw.app.tokenRevocations!.listening(), 0, 'the subscriptions went with the sockets')
  const whoami = await call(gw.http, 'GET', '/v1/whoami', w.token)
  t.same([whoami.status, whoami.body?.code], [503, 'QUIVER_AUTH_UNAVAILABLE'], 'and the token is refused as unverifiable, not as revoked')
})
