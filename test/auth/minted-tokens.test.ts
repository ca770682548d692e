import t from 'tap'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { waitFor } from '../helpers/wait.ts'

// Two gateway processes sharing one DATA_DIR (the multi-instance deployment): a token minted on
// one and revoked on one is refused by both, and by an instance started afterwards.
const POLL_S = 1
const ENV = { LOCAL_TOKEN_REVOCATION_POLL_S: String(POLL_S), LOCAL_TOKEN_MAX_TTL_S: '3600' }
const UNAUTHORIZED = { statusCode: 401, code: 'QUIVER_UNAUTHORIZED', error: 'Unauthorized', message: 'Missing or invalid bearer token' }

const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>

async function call (gw: Gateway, method: string, path: string, token: string, body?: unknown): Promise<{ status: number, body: any }> {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text) }
}

t.test('minted tokens: svc: subjects, capped TTL, a jti; revoked on every instance sharing the storage', async (t) => {
  const dataDir = t.testdir()
  const admin = localToken(dataDir, ['admin'])
  const writer = localToken(dataDir, ['write'])
  const [a, b] = await Promise.all([startGateway(t, { ...ENV, DATA_DIR: dataDir }), startGateway(t, { ...ENV, DATA_DIR: dataDir })])

  const tooLong = await call(a, 'POST', '/v1/admin/tokens', admin, { subject: 'etl', roles: ['write'], ttlSeconds: 3601 })
  t.equal(tooLong.status, 400)
  t.same(tooLong.body, { statusCode: 400, code: 'QUIVER_TOKEN_TTL_TOO_LONG', error: 'Bad Request', message: 'ttlSeconds 3601 exceeds LOCAL_TOKEN_MAX_TTL_S (3600)' })

  const minted = await call(a, 'POST', '/v1/admin/tokens', admin, { subject: 'etl', roles: ['write'], ttlSeconds: 3600 })
  t.equal(minted.status, 200)
  const { token, jti } = minted.body
  t.same(Object.keys(minted.body).sort(), ['expiresAt', 'jti', 'subject', 'token'])
  t.match(jti, /^[0-9a-f-]{36}$/)
  t.equal(minted.body.subject, 'svc:etl')
  const claims = payloadOf(token)
  t.equal(claims.sub, 'svc:etl', 'the subject is marked as a service')
  t.equal(claims.jti, jti)
  t.equal((claims.exp as number) - (claims.iat as number), 3600)
  // A subject copied from an identity provider's user cannot be claimed as such.
  const impostor = await call(a, 'POST', '/v1/admin/tokens', admin, { subject: '7d2f-cognito-user-sub', roles: ['read'], ttlSeconds: 60 })
  t.equal(payloadOf(impostor.body.token).sub, 'svc:7d2f-cognito-user-sub')
  const already = await call(a, 'POST', '/v1/admin/tokens', admin, { subject: 'svc:loader', roles: ['read'], ttlSeconds: 60 })
  t.equal(already.body.subject, 'svc:loader', 'not prefixed twice')

  // Both instances accept it (and keep it in their verified-token caches).
  for (const gw of [a, b]) {
    const who = await call(gw, 'GET', '/v1/whoami', token)
    t.equal(who.status, 200)
    t.same(who.body, { sub: 'svc:etl', username: 'svc:etl', tokenUse: 'local', groups: [], scopes: ['boilstream:read', 'boilstream:write'], roles: ['read', 'write'] })
  }

  t.same((await call(b, 'DELETE', '/v1/admin/tokens/00000000-0000-4000-8000-000000000000', admin)).body,
    { statusCode: 404, code: 'QUIVER_NOT_FOUND', error: 'Not Found', message: 'No minted token has jti 00000000-0000-4000-8000-000000000000' })
  t.equal((await call(b, 'DELETE', '/v1/admin/tokens/..%2F..%2Fcatalog', admin)).status, 400, 'a jti is never a path')
  const forbidden = await call(b, 'DELETE', `/v1/admin/tokens/${jti}`, writer)
  t.same(forbidden.body, { statusCode: 403, code: 'QUIVER_FORBIDDEN', error: 'Forbidden', message: 'This operation needs the admin role' })

  // Revoked on b (the token was minted on a): b refuses it at once, a within one poll.
  const revoked = await call(b, 'DELETE', `/v1/admin/tokens/${jti}`, admin)
  t.equal(revoked.status, 204)
  t.equal(revoked.body, null)
  const at = Date.now()
  const onB = await call(b, 'GET', '/v1/whoami', token)
  t.equal(onB.status, 401, 'the revoking instance refuses it at once')
  t.same(onB.body, UNAUTHORIZED)
  let onA = await call(a, 'GET', '/v1/whoami', token)
  await waitFor(async () => (onA = await call(a, 'GET', '/v1/whoami', token)).status !== 200, 'the other instance to refuse it', { timeoutMs: (POLL_S + 30) * 1000, everyMs: 20 }).catch(() => {})
  const delay = Date.now() - at
  t.comment(`revocation reached the other instance after ${delay} ms (LOCAL_TOKEN_REVOCATION_POLL_S=${POLL_S})`)
  t.equal(onA.status, 401, 'the other instance refuses it')
  // One poll, plus one read of the list from storage, on a machine that may be slow.
  t.ok(delay <= POLL_S * 1000 + 5000, `within one poll (${delay} ms)`)
  // Another minted token is untouched.
  t.equal((await call(a, 'GET', '/v1/whoami', impostor.body.token)).status, 200)

  // An instance started later reads the list before serving.
  const c = await startGateway(t, { ...ENV, DATA_DIR: dataDir })
  t.equal((await call(c, 'GET', '/v1/whoami', token)).status, 401, 'refused by an instance started afterwards')
  t.equal((await call(c, 'GET', '/v1/whoami', impostor.body.token)).status, 200)
})
