import t from 'tap'
import { startGateway } from '../helpers/gateway.ts'
import { rsaKey, startIssuer } from '../helpers/oidc-issuer.ts'
import { waitFor } from '../helpers/wait.ts'

// A real gateway process against an OIDC provider served by this test, whose JWKS changes while
// the test runs. Fetches are counted on the provider's side.
const ENV = (issuer: string, extra: Record<string, string> = {}) => ({
  AUTH_PROVIDERS: 'oidc', OIDC_ISSUER: issuer, OIDC_AUDIENCE: 'quiver', READ_ONLY_GROUPS: 'readers', ...extra
})
const UNAUTHORIZED = { statusCode: 401, code: 'QUIVER_UNAUTHORIZED', error: 'Unauthorized', message: 'Missing or invalid bearer token' }
const UNAVAILABLE = { statusCode: 503, code: 'QUIVER_AUTH_UNAVAILABLE', error: 'Service Unavailable', message: 'The identity provider cannot be reached; try again later' }

async function whoami (url: string, token: string): Promise<{ status: number, body: unknown, retryAfter: string | null }> {
  const res = await fetch(`${url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } })
  return { status: res.status, body: await res.json(), retryAfter: res.headers.get('retry-after') }
}

t.test('a kid removed from the JWKS is refused within JWKS_CACHE_TTL_S; a burst costs at most one fetch per 10 s', async (t) => {
  const idp = await startIssuer(t)
  const k1 = rsaKey('k1')
  const k2 = rsaKey('k2')
  idp.keys = [k1.jwk, k2.jwk]
  const TTL_S = 10
  const starting = Date.now()
  const gw = await startGateway(t, ENV(idp.issuer, { JWKS_CACHE_TTL_S: String(TTL_S) }))
  const revoked = idp.sign(k1)
  const kept = idp.sign(k2)
  t.equal((await whoami(gw.url, revoked)).status, 200, 'k1 works before its removal')
  t.equal((await whoami(gw.url, kept)).status, 200)
  const before = idp.hits('/certs')
  t.equal(before, 1, 'one fetch at startup')

  idp.keys = [k2.jwk]
  const removedAt = Date.now()
  // The key set was fetched after `starting` and before `removedAt`: k1 is trusted until a moment
  // between those two plus the TTL. Bounds from the times requests were sent and answered, so a
  // slow burst on a busy machine shifts nothing: a burst answered before `starting` + TTL was
  // answered within the trust, a burst sent after `removedAt` + TTL (+ 1 s for the refetch's window
  // to open) must be refused whole.
  const trustedUntil = starting + TTL_S * 1000
  const lapsedBy = removedAt + TTL_S * 1000 + 1000
  let refusedAfter = -1
  let requests = 0
  let sentAfterLapse = 0
  let keptStatuses = new Set<number>()
  // Bursts of 20 concurrent requests carrying the removed kid (and 5 with the kept one), back to
  // back, until two were sent after it had to lapse.
  while (sentAfterLapse < 2) {
    const sentAt = Date.now()
    const burst = await Promise.all([
      ...Array.from({ length: 20 }, () => whoami(gw.url, revoked)),
      ...Array.from({ length: 5 }, () => whoami(gw.url, kept))
    ])
    const answeredAt = Date.now()
    requests += burst.length
    for (const r of burst.slice(20)) keptStatuses.add(r.status)
    const statuses = [...new Set(burst.slice(0, 20).map((r) => r.status))]
    if (answeredAt < trustedUntil) t.same(statuses, [200], 'trusted until the TTL has passed')
    if (sentAt > lapsedBy) {
      sentAfterLapse++
      t.same(statuses, [401], `a burst sent ${sentAt - removedAt} ms after the removal is refused whole`)
    }
    if (refusedAfter < 0) {
      if (statuses.includes(401)) {
        refusedAfter = answeredAt - removedAt
        t.same(burst.find((r) => r.status === 401)!.body, UNAUTHORIZED)
      }
    } else {
      t.same(statuses, [401], 'once refused, always refused')
    }
  }
  const fetches = idp.hits('/certs') - before
  t.comment(`removed kid refused ${refusedAfter} ms after its removal (TTL ${TTL_S} s); ${requests} requests, ${fetches} JWKS fetch(es)`)
  t.ok(refusedAfter >= 0, `refused within the TTL (${refusedAfter} ms)`)
  t.ok(fetches >= 1 && fetches <= 2, `${fetches} fetches for ${requests} requests`)
  t.same([...keptStatuses], [200], 'the key still published kept working throughout')
  keptStatuses = new Set()
  // More requests with the removed kid: refused without any fetch.
  const atEnd = idp.hits('/certs')
  const more = await Promise.all(Array.from({ length: 50 }, () => whoami(gw.url, revoked)))
  t.same([...new Set(more.map((r) => r.status))], [401])
  t.equal(idp.hits('/certs'), atEnd, 'no fetch for a kid known to be removed')
})

t.test('rotation after a junk kid: 503 with Retry-After (never 401), accepted in the next window; enc and wrong-alg keys refused; a changed jwks_uri is not followed', async (t) => {
  const idp = await startIssuer(t)
  const k1 = rsaKey('k1')
  const enc = rsaKey('enc-key', { use: 'enc' })
  const rs384 = rsaKey('rs384-key', { alg: 'RS384', use: 'sig' })
  const noUse = rsaKey('bare-key', {})
  idp.keys = [k1.jwk, enc.jwk, rs384.jwk, noUse.jwk]
  const gw = await startGateway(t, ENV(idp.issuer))
  t.equal((await whoami(gw.url, idp.sign(k1))).status, 200)
  t.equal((await whoami(gw.url, idp.sign(noUse))).status, 200, 'a key without use or alg is an RS256 signature key')
  t.equal(idp.hits('/.well-known/openid-configuration'), 1)
  t.equal(idp.hits('/certs'), 1)

  // The discovery document now points elsewhere, at a key set holding an attacker's key.
  const attacker = rsaKey('attacker')
  idp.serve('/evil-certs', [attacker.jwk])
  idp.setJwksPath('/evil-certs')

  // Keys listed for encryption or another algorithm never verify a signature: 401, no fetch.
  for (const [name, token] of [
    ['use enc', idp.sign(enc)],
    ['alg RS384 key', idp.sign(rs384)],
    ['RS384 token on an RS256 key', idp.sign(k1, {}, { alg: 'RS384' })],
    ['none', `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'k1' })).toString('base64url')}.${idp.sign(k1).split('.')[1]}.`]
  ] as const) {
    const r = await whoami(gw.url, token)
    t.equal(r.status, 401, name)
    t.same(r.body, UNAUTHORIZED, `${name}: body`)
  }
  t.equal(idp.hits('/certs'), 1, 'refusing them cost no fetch')

  // A junk kid spends this window's fetch…
  const junk = await whoami(gw.url, idp.sign(rsaKey('junk'), {}, { kid: 'junk-kid' }))
  t.equal(junk.status, 401)
  t.equal(idp.hits('/certs'), 2, 'the junk kid fetched the pinned key set')
  // …then the provider publishes a new key and signs with it.
  const k2 = rsaKey('k2')
  idp.keys = [k1.jwk, k2.jwk]
  const rotated = idp.sign(k2)
  const started = Date.now()
  const first = await whoami(gw.url, rotated)
  t.equal(first.status, 503, 'the window is spent: 503, not 401')
  t.same(first.body, UNAVAILABLE)
  const retryAfter = Number(first.retryAfter)
  t.ok(retryAfter >= 1 && retryAfter <= 10, `Retry-After ${retryAfter} s`)
  // A client retrying every 250 ms until it is let in (the condition waited for).
  const seen = [first.status]
  let last = first
  await waitFor(async () => {
    last = await whoami(gw.url, rotated)
    seen.push(last.status)
    return last.status === 200
  }, `the rotated key to be accepted (${seen.join(',')})`, { timeoutMs: (retryAfter + 30) * 1000, everyMs: 250 }).catch(() => {})
  const acceptedAfter = Date.now() - started
  t.comment(`rotated key: first answer 503 Retry-After ${retryAfter}, accepted after ${acceptedAfter} ms`)
  t.equal(last.status, 200, 'accepted within the next window')
  t.notOk(seen.includes(401), `never 401 (${seen.join(',')})`)
  // Retry-After is the window's remaining time rounded up to whole seconds, so the window opened
  // at least retryAfter - 1 s after the first try: not accepted before. The upper bound leaves a
  // busy machine 5 s to answer once it is open.
  t.ok(acceptedAfter >= (retryAfter - 1) * 1000 && acceptedAfter <= (retryAfter + 5) * 1000, `accepted ${acceptedAfter} ms after the first try (Retry-After ${retryAfter} s)`)
  t.equal(idp.hits('/certs'), 3, 'one more fetch, in the next window')

  // The attacker's token never passes, and the changed discovery document was never read again.
  const evil = await whoami(gw.url, idp.sign(attacker))
  t.not(evil.status, 200)
  t.equal(idp.hits('/evil-certs'), 0, 'the new jwks_uri was never fetched')
  t.equal(idp.hits('/.well-known/openid-configuration'), 1, 'discovery was read once and its jwks_uri pinned')
})

t.test('an issuer down past JWKS_CACHE_TTL_S: /readyz says auth_keys_unavailable while tokens get 503, and ready again once it answers', async (t) => {
  // Before, /readyz answered ready for good once the keys had loaded at start: a load balancer
  // kept routing to a gateway that refused every token with 503.
  const idp = await startIssuer(t)
  const k1 = rsaKey('k1')
  idp.keys = [k1.jwk]
  const TTL_S = 10
  const gw = await startGateway(t, ENV(idp.issuer, { JWKS_CACHE_TTL_S: String(TTL_S) }))
  const token = idp.sign(k1)
  const ready = async () => {
    const res = await fetch(`${gw.url}/readyz`)
    return { status: res.status, body: await res.json() as unknown }
  }
  t.equal((await whoami(gw.url, token)).status, 200)
  t.same(await ready(), { status: 200, body: { status: 'ready', checks: { storage: 'ok', auth: 'ok' } } })

  idp.failWith(503)
  const downAt = Date.now()
  // Within the TTL the keys fetched last still verify: tokens pass and the gateway stays ready.
  const early = await whoami(gw.url, token)
  if (Date.now() - downAt < TTL_S * 1000 - 2000) {
    t.equal(early.status, 200, 'a cached key still verifies')
    t.same((await ready()).status, 200, 'and the gateway is ready while it does')
  }
  // Past the TTL: tokens get 503; from then on /readyz must say so too.
  await waitFor(async () => (await whoami(gw.url, token)).status === 503, 'tokens to be refused with 503 once the keys lapsed', { timeoutMs: (TTL_S + 30) * 1000, everyMs: 250 })
  t.same((await whoami(gw.url, token)).body, UNAVAILABLE)
  t.same(await ready(), { status: 503, body: { status: 'unavailable', checks: { storage: 'ok', auth: 'auth_keys_unavailable' } } }, '/readyz agrees with what tokens get')

  idp.failWith(null)
  // Back: the next fetch window (at most 10 s) loads the keys again; readiness and tokens return together.
  await waitFor(async () => (await ready()).status === 200, 'ready again once the provider answers', { timeoutMs: 40_000, everyMs: 250 })
  t.equal((await whoami(gw.url, token)).status, 200, 'and the token is accepted again')
})
