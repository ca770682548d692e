import { generateKeyPairSync } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { buildApp } from '../helpers/app.ts'
import { mintToken } from '../helpers/cognito-local.ts'

// A minimal OIDC issuer: discovery document + JWKS, on a random port.
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const hits: string[] = []
const server = createServer((req, res) => {
  hits.push(req.url ?? '')
  const body = req.url === '/realms/q/.well-known/openid-configuration'
    ? { issuer, jwks_uri: `${base}/realms/q/protocol/openid-connect/certs` }
    : req.url === '/realms/q/protocol/openid-connect/certs'
      ? { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }] }
      : undefined
  res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}))
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise((resolve) => server.close(resolve)))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const issuer = `${base}/realms/q`
const now = Math.floor(Date.now() / 1000)
const claims = (extra: Record<string, unknown> = {}) => ({ iss: issuer, sub: 'u-9', aud: 'quiver-api', preferred_username: 'erin', iat: now, exp: now + 300, ...extra })
const sign = (c: Record<string, unknown>) => mintToken(c, { kid: 'k1' }, privateKey)

t.test('OIDC issuer: JWKS from discovery, audience and groups claim', async (t) => {
  const { app } = await buildApp(t, {
    AUTH_PROVIDERS: 'oidc,local', OIDC_ISSUER: issuer, OIDC_AUDIENCE: 'quiver-api', OIDC_GROUPS_CLAIM: 'realm_access.roles', WRITE_GROUPS: 'producer'
  })
  const ok = await app.inject({ url: '/v1/whoami', headers: { authorization: `Bearer ${sign(claims({ realm_access: { roles: ['producer'] } }))}` } })
  t.same(hits, ['/realms/q/.well-known/openid-configuration', '/realms/q/protocol/openid-connect/certs'], 'hydrated through discovery')
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { sub: 'u-9', username: 'erin', tokenUse: 'oidc', groups: ['producer'], scopes: [], roles: ['read', 'write'] })
  for (const bad of [claims({ aud: 'someone-else' }), claims({ iss: `${base}/realms/other` }), claims({ exp: now - 120 })]) {
    const res = await app.inject({ url: '/v1/whoami', headers: { authorization: `Bearer ${sign(bad)}` } })
    t.equal(res.statusCode, 401)
  }
  // Several providers at once: the local provider's tokens work beside the OIDC ones.
  const jwks = await app.inject({ url: '/.well-known/jwks.json' })
  t.equal(jwks.json().keys.length, 1)
  t.equal(hits.length, 2, 'no fetch per request')
})

t.test('a discovery document naming another issuer is refused: tokens get 503, /readyz says why, its keys are never fetched', async (t) => {
  const seen: string[] = []
  const liar = createServer((req, res) => {
    seen.push(req.url ?? '')
    const body = req.url === '/tenant/.well-known/openid-configuration'
      // The mix-up attack: a document at this issuer's address speaking for another issuer.
      ? { issuer: 'https://idp.example.com/tenant', jwks_uri: `${liarBase}/tenant/certs` }
      : req.url === '/tenant/certs'
        ? { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }] }
        : {}
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  })
  await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => liar.close(resolve)))
  const liarBase = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`
  const liarIssuer = `${liarBase}/tenant`
  const { app } = await buildApp(t, { AUTH_PROVIDERS: 'oidc', OIDC_ISSUER: liarIssuer })
  const token = sign({ iss: liarIssuer, sub: 'mallory', iat: now, exp: now + 300 })
  const res = await app.inject({ url: '/v1/whoami', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { statusCode: 503, code: 'QUIVER_AUTH_UNAVAILABLE', error: 'Service Unavailable', message: res.json().message })
  const ready = await app.inject({ url: '/readyz' })
  t.equal(ready.statusCode, 503)
  t.same(ready.json().checks.auth, 'auth_keys_unavailable', '/readyz: a stable code, never the issuer URL (unauthenticated callers learn nothing of the setup)')
  t.notOk(seen.includes('/tenant/certs'), `the key set it points at was never fetched (${seen.join(', ')})`)
})
