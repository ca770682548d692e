import { createHmac, createPublicKey, generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { buildApp } from '../helpers/app.ts'
import { accessClaims, createPool, mintToken, startCognitoLocal, COGNITO_LOCAL_KID } from '../helpers/cognito-local.ts'

const cl = await startCognitoLocal(t)
const pool = await createPool(cl, {
  alice: ['boilstream-admins'],
  bob: ['data-producers'],
  carol: ['data-analysts'],
  dave: []
})

const GROUPS = { ADMIN_GROUPS: 'boilstream-admins', WRITE_GROUPS: 'data-producers', READ_ONLY_GROUPS: 'data-analysts' }
const env = (extra: Record<string, string> = {}) => ({
  AUTH_PROVIDERS: 'cognito', COGNITO_USER_POOL_ID: pool.poolId, COGNITO_REGION: 'local', COGNITO_ENDPOINT: cl.endpoint, ...GROUPS, ...extra
})
const UNAUTHORIZED = { statusCode: 401, code: 'QUIVER_UNAUTHORIZED', error: 'Unauthorized', message: 'Missing or invalid bearer token' }
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

t.test('access and id tokens from AdminInitiateAuth both work; groups map to roles', async (t) => {
  const { app } = await buildApp(t, env())
  const expected = {
    alice: { groups: ['boilstream-admins'], roles: ['read', 'write', 'admin'] },
    bob: { groups: ['data-producers'], roles: ['read', 'write'] },
    carol: { groups: ['data-analysts'], roles: ['read'] },
    dave: { groups: [], roles: [] }
  }
  for (const [user, want] of Object.entries(expected)) {
    const tokens = await pool.login(user)
    const access = await app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(tokens.accessToken) })
    t.equal(access.statusCode, 200, `${user} access token`)
    const body = access.json()
    t.same(body, { sub: body.sub, username: user, tokenUse: 'access', groups: want.groups, scopes: ['aws.cognito.signin.user.admin'], roles: want.roles })
    t.match(body.sub, /^[0-9a-f-]{36}$/)
    const id = await app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(tokens.idToken) })
    t.equal(id.statusCode, 200, `${user} id token`)
    t.same(id.json(), { sub: body.sub, username: user, tokenUse: 'id', groups: want.groups, scopes: [], roles: want.roles })
  }

  // The role check runs before the route: bob is refused with the role named, alice passes it
  // (and learns that minting needs the local provider).
  const bob = await pool.login('bob')
  const forbidden = await app.inject({ method: 'POST', url: '/v1/admin/tokens', headers: bearer(bob.accessToken), payload: { subject: 's', roles: ['read'], ttlSeconds: 60 } })
  t.same(forbidden.json(), { statusCode: 403, code: 'QUIVER_FORBIDDEN', error: 'Forbidden', message: 'This operation needs the admin role' })
  const alice = await pool.login('alice')
  const off = await app.inject({ method: 'POST', url: '/v1/admin/tokens', headers: bearer(alice.idToken), payload: { subject: 's', roles: ['read'], ttlSeconds: 60 } })
  t.same(off.json(), { statusCode: 404, code: 'QUIVER_NOT_FOUND', error: 'Not Found', message: 'Token minting needs the local auth provider (AUTH_PROVIDERS includes local)' })
})

t.test('COGNITO_AUDIENCE refuses another app client; COGNITO_TOKEN_USE picks the token kind', async (t) => {
  const mine = await pool.login('carol')
  const theirs = await pool.login('carol', pool.otherClientId)
  const { app } = await buildApp(t, env({ COGNITO_AUDIENCE: pool.clientId }))
  for (const [name, token, status] of [['own access', mine.accessToken, 200], ['own id', mine.idToken, 200], ['other access', theirs.accessToken, 401], ['other id', theirs.idToken, 401]] as const) {
    const res = await app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(token) })
    t.equal(res.statusCode, status, name)
  }
  const accessOnly = (await buildApp(t, env({ COGNITO_TOKEN_USE: 'access' }))).app
  t.equal((await accessOnly.inject({ url: '/v1/whoami', headers: bearer(mine.accessToken) })).statusCode, 200)
  t.equal((await accessOnly.inject({ url: '/v1/whoami', headers: bearer(mine.idToken) })).statusCode, 401)
  const idOnly = (await buildApp(t, env({ COGNITO_TOKEN_USE: 'id' }))).app
  t.equal((await idOnly.inject({ url: '/v1/whoami', headers: bearer(mine.idToken) })).statusCode, 200)
  t.equal((await idOnly.inject({ url: '/v1/whoami', headers: bearer(mine.accessToken) })).statusCode, 401)
})

t.test('bad-token corpus: every one is the same opaque 401', async (t) => {
  const { app } = await buildApp(t, env({ COGNITO_AUDIENCE: pool.clientId }))
  const real = await pool.login('carol')
  const now = Math.floor(Date.now() / 1000)
  const good = accessClaims(pool.issuer, pool.clientId)
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  const publicPem = createPublicKey({ key: (await (await fetch(`${pool.issuer}/.well-known/jwks.json`)).json()).keys[0], format: 'jwk' }).export({ type: 'spki', format: 'pem' })
  const unsigned = (header: object, claims: object) => `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  const hs256Input = unsigned({ alg: 'HS256', typ: 'JWT', kid: COGNITO_LOCAL_KID }, good)
  const [h, p, s] = real.accessToken.split('.')
  const tamperedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), 'cognito:groups': ['boilstream-admins'] })).toString('base64url')

  const corpus: Record<string, string> = {
    expired: `Bearer ${mintToken({ ...good, iat: now - 7200, exp: now - 120 })}`,
    'not yet valid': `Bearer ${mintToken({ ...good, nbf: now + 120 })}`,
    'wrong issuer': `Bearer ${mintToken({ ...good, iss: `${cl.endpoint}/local_other` })}`,
    'foreign issuer': `Bearer ${mintToken({ ...good, iss: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_evil' })}`,
    'signed by another key': `Bearer ${mintToken(good, {}, other)}`,
    'alg none': `Bearer ${unsigned({ alg: 'none', typ: 'JWT' }, good)}.`,
    'alg none with kid': `Bearer ${unsigned({ alg: 'none', kid: COGNITO_LOCAL_KID }, good)}.`,
    'HS256 signed with the public key': `Bearer ${hs256Input}.${createHmac('sha256', publicPem).update(hs256Input).digest('base64url')}`,
    'tampered payload': `Bearer ${h}.${tamperedPayload}.${s}`,
    'token_use refresh': `Bearer ${mintToken({ ...good, token_use: 'refresh' })}`,
    'token_use missing': `Bearer ${mintToken({ ...good, token_use: undefined })}`,
    'real refresh token': `Bearer ${real.refreshToken}`,
    'wrong client_id': `Bearer ${mintToken({ ...good, client_id: pool.otherClientId })}`,
    'id token with wrong aud': `Bearer ${mintToken({ ...good, token_use: 'id', client_id: undefined, aud: pool.otherClientId })}`,
    'no exp': `Bearer ${mintToken({ ...good, exp: undefined })}`,
    'unknown kid': `Bearer ${mintToken(good, { kid: 'nope' })}`,
    // signatures that are not base64url: fast-jwt's FAST_JWT_INVALID_SIGNATURE answered 500 (outside pass 3)
    'signature + ";"': `Bearer ${h}.${p}.${s};`,
    'signature + "!"': `Bearer ${h}.${p}.${s}!`,
    'signature + "=="': `Bearer ${h}.${p}.${s}==`,
    'signature in standard base64': `Bearer ${h}.${p}.${s.replace(/-/g, '+').replace(/_/g, '/')}${/[-_]/.test(s) ? '' : '+'}`,
    'signature "%%%"': `Bearer ${h}.${p}.%%%`,
    'signature with non-ASCII': `Bearer ${h}.${p}.${s}é`,
    'payload + "!"': `Bearer ${h}.${p}!.${s}`,
    'header + "=="': `Bearer ${h}==.${p}.${s}`,
    'empty signature': `Bearer ${h}.${p}.`,
    garbage: 'Bearer garbage',
    'three garbage parts': 'Bearer a.b.c',
    'bare Bearer': 'Bearer',
    'Basic scheme': 'Basic x',
    'two tokens': 'Bearer a b',
    'Token scheme': `Token ${real.accessToken}`,
    'empty header': ''
  }
  for (const [name, authorization] of Object.entries(corpus)) {
    const res = await app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization } })
    t.equal(res.statusCode, 401, name)
    t.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"', `${name}: WWW-Authenticate`)
    t.same(res.json(), UNAUTHORIZED, `${name}: body`)
  }
  // Skew: up to 60 s either way is tolerated.
  for (const claims of [{ ...good, exp: now - 30 }, { ...good, nbf: now + 30 }]) {
    t.equal((await app.inject({ url: '/v1/whoami', headers: bearer(mintToken(claims)) })).statusCode, 200)
  }
  const metrics = (await app.inject({ url: '/metrics' })).body
  for (const reason of ['expired', 'not_yet_valid', 'unknown_issuer', 'bad_signature', 'algorithm', 'token_use', 'audience', 'malformed', 'malformed_header', 'unknown_kid', 'claims']) {
    t.match(metrics, new RegExp(`quiver_auth_failures_total\\{reason="${reason}"\\} [1-9]`), `metric for ${reason}`)
  }
})

t.test('scopes map to roles end to end; REQUIRED_*_SCOPES answer 403 naming the scopes', async (t) => {
  const { app } = await buildApp(t, env({ REQUIRED_ADMIN_SCOPES: 'boilstream/admin' }))
  const cases: Array<[string, string[]]> = [
    ['boilstream/read', ['read']],
    ['boilstream:write', ['read', 'write']],
    ['openid boilstream/admin', ['read', 'write', 'admin']],
    ['other/admin', []]
  ]
  for (const [scope, roles] of cases) {
    const res = await app.inject({ url: '/v1/whoami', headers: bearer(mintToken(accessClaims(pool.issuer, pool.clientId, { scope }))) })
    t.same(res.json(), { sub: 'minted-user', username: 'minted', tokenUse: 'access', groups: [], scopes: scope.split(' '), roles }, scope)
  }
  const mint = { method: 'POST' as const, url: '/v1/admin/tokens', payload: { subject: 's', roles: ['read'], ttlSeconds: 60 } }
  const groupOnly = mintToken(accessClaims(pool.issuer, pool.clientId, { 'cognito:groups': ['boilstream-admins'] }))
  const missing = await app.inject({ ...mint, headers: bearer(groupOnly) })
  t.same(missing.json(), { statusCode: 403, code: 'QUIVER_MISSING_SCOPE', error: 'Forbidden', message: 'This admin operation needs the scopes: boilstream/admin' })
  const withScope = mintToken(accessClaims(pool.issuer, pool.clientId, { scope: 'boilstream/admin' }))
  t.equal((await app.inject({ ...mint, headers: bearer(withScope) })).statusCode, 404, 'past the role and scope checks')
})
