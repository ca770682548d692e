import { statSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { loadOrCreateLocalKeys, prepareLocalKeys } from '../../src/auth/local-keys.ts'

const UNAUTHORIZED = { statusCode: 401, code: 'QUIVER_UNAUTHORIZED', error: 'Unauthorized', message: 'Missing or invalid bearer token' }

t.test('local provider: key persisted 0600, JWKS served, minted tokens carry their roles', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const file = join(dataDir, '.quiver', 'local-jwk.json')
  t.equal(statSync(file).mode & 0o777, 0o600)
  const stored = JSON.parse(readFileSync(file, 'utf8'))

  const jwks = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })
  t.equal(jwks.statusCode, 200)
  const { keys } = jwks.json()
  t.equal(keys.length, 1)
  t.match(keys[0], { kty: 'RSA', kid: stored.kid, alg: 'RS256', use: 'sig', e: 'AQAB' })
  t.notOk('d' in keys[0], 'no private part published')

  const writer = { token: localToken(dataDir, ['write'], { subject: 'svc-writer' }) }
  const who = await app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: `Bearer ${writer.token}` } })
  t.equal(who.statusCode, 200)
  t.same(who.json(), { sub: 'svc-writer', username: 'svc-writer', tokenUse: 'local', groups: [], scopes: ['boilstream:read', 'boilstream:write'], roles: ['read', 'write'] })

  const denied = await app.inject({ method: 'POST', url: '/v1/admin/tokens', headers: { authorization: `Bearer ${writer.token}` }, payload: { subject: 'x', roles: ['read'], ttlSeconds: 60 } })
  t.equal(denied.statusCode, 403)
  t.same(denied.json(), { statusCode: 403, code: 'QUIVER_FORBIDDEN', error: 'Forbidden', message: 'This operation needs the admin role' })

  // A signature that is not base64url was a 500 (fast-jwt's FAST_JWT_INVALID_SIGNATURE unmapped); over the upgrade's access_token too.
  const [h, p, sig] = writer.token.split('.')
  for (const bad of [`${h}.${p}.${sig};`, `${h}.${p}.${sig}==`, `${h}.${p}.%%%`, `${h}.${p}.${sig}é`]) {
    const res = await app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: `Bearer ${bad}` } })
    t.same([res.statusCode, res.headers['www-authenticate'], res.json()], [401, 'Bearer error="invalid_token"', UNAUTHORIZED], `signature ${bad.slice(h.length + p.length + 2 + sig.length - 2)}`)
  }

  const none = await app.inject({ method: 'GET', url: '/v1/whoami' })
  t.equal(none.statusCode, 401)
  t.equal(none.headers['www-authenticate'], 'Bearer error="invalid_token"')
  t.same(none.json(), UNAUTHORIZED)
})

t.test('POST /v1/admin/tokens mints working tokens; the key survives a restart', async (t) => {
  const first = await buildApp(t)
  const admin = { token: localToken(first.dataDir, ['admin']) }
  const res = await first.app.inject({ method: 'POST', url: '/v1/admin/tokens', headers: { authorization: `Bearer ${admin.token}` }, payload: { subject: 'etl', roles: ['read'], ttlSeconds: 120 } })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['expiresAt', 'jti', 'subject', 'token'])
  t.equal(body.subject, 'svc:etl', 'minted subjects are marked as services')
  const ttl = (Date.parse(body.expiresAt) - Date.now()) / 1000
  t.ok(ttl > 110 && ttl <= 120, `expiresAt about 120 s ahead (${ttl})`)

  const bad = await first.app.inject({ method: 'POST', url: '/v1/admin/tokens', headers: { authorization: `Bearer ${admin.token}` }, payload: { subject: 'etl', roles: ['owner'], ttlSeconds: 120 } })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'QUIVER_VALIDATION')

  // A second app on the same DATA_DIR reuses the key, so earlier tokens still verify.
  const second = await buildApp(t, { DATA_DIR: first.dataDir })
  const who = await second.app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: `Bearer ${body.token}` } })
  t.equal(who.statusCode, 200)
  t.same(who.json(), { sub: 'svc:etl', username: 'svc:etl', tokenUse: 'local', groups: [], scopes: ['boilstream:read'], roles: ['read'] })
})

t.test('prepareLocalKeys generates the key off the event loop once; loadOrCreateLocalKeys then reuses it', async (t) => {
  const dir = t.testdir()
  const a = prepareLocalKeys(dir)
  t.equal(prepareLocalKeys(dir), a, 'one generation per DATA_DIR')
  await a
  const file = join(dir, '.quiver', 'local-jwk.json')
  const stored = JSON.parse(readFileSync(file, 'utf8'))
  t.equal(statSync(file).mode & 0o777, 0o600)
  const keys = loadOrCreateLocalKeys(dir)
  t.equal(keys.kid, stored.kid, 'the prepared key is the one used')
  await prepareLocalKeys(t.testdir()) // a new dir: generated too
  const existing = t.testdir()
  const before = loadOrCreateLocalKeys(existing)
  await prepareLocalKeys(existing)
  t.equal(loadOrCreateLocalKeys(existing).kid, before.kid, 'an existing key is never replaced')
})
