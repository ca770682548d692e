import { createPublicKey, type JsonWebKey } from 'node:crypto'
import type buildGetJwks from 'get-jwks'
import type { Dispatcher } from 'undici'
import { AuthUnavailableError } from '../errors.ts'
import { TokenRejectedError } from './rejection.ts'

export const JWKS_TIMEOUT_MS = 3000
export const UNKNOWN_KID_INTERVAL_MS = 10_000
/** Keys stay trusted this long between fetches; get-jwks keeps a stale copy for as long again. */
const KEY_TTL_MS = 60 * 60 * 1000

/**
 * get-jwks's own `timeout` is ignored by global fetch; an undici dispatcher bounds every phase.
 * Made on first use: undici and get-jwks are a fifth of the gateway's modules (about 150 ms of a
 * cold start), and a gateway with only the local provider never fetches a key set.
 */
export interface JwksDispatcher {
  get (): Promise<Dispatcher>
  close (): Promise<void>
}

export function createJwksDispatcher (timeoutMs = JWKS_TIMEOUT_MS): JwksDispatcher {
  let agent: Promise<Dispatcher> | undefined
  return {
    get: () => (agent ??= import('undici').then(({ Agent }) => new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }))),
    async close () {
      if (agent) await (await agent).close()
    }
  }
}

export interface KeyStore {
  issuer: string
  /** PEM public key for `kid`; TokenRejectedError (401) or AuthUnavailableError (503). */
  getKey (kid: string): Promise<string>
  /** Loads the whole key set ahead of the first request; false when the provider is unreachable. */
  hydrate (): Promise<boolean>
  /** Usable when a key set was loaded once; otherwise retries the load (at most every 10 s). */
  status (): Promise<{ ok: boolean, reason?: string }>
}

export interface RemoteKeyStoreOptions {
  issuer: string
  /** JWKS path under the issuer, fixed by configuration; when absent it comes from discovery. */
  jwksPath?: string
  dispatcher: JwksDispatcher
  now?: () => number
}

interface Attempt { at: number, done: Promise<unknown>, unavailable: boolean }

/**
 * One issuer's signing keys through get-jwks (pinned to that issuer only), with the two things
 * get-jwks lacks: a refetch budget for unknown kids, and a 401/503 split of its failures.
 */
export function createRemoteKeyStore (opts: RemoteKeyStoreOptions): KeyStore {
  const now = opts.now ?? Date.now
  const domain = opts.issuer.endsWith('/') ? opts.issuer : `${opts.issuer}/`
  const fetchOptions: { dispatcher?: Dispatcher } = {}
  let client: Promise<ReturnType<typeof buildGetJwks>> | undefined
  const jwksClient = (): Promise<ReturnType<typeof buildGetJwks>> => (client ??= Promise.all([import('get-jwks'), opts.dispatcher.get()])
    .then(([{ default: build }, dispatcher]) => {
      fetchOptions.dispatcher = dispatcher
      return build({
        issuersWhitelist: [opts.issuer],
        providerDiscovery: !opts.jwksPath,
        ...(opts.jwksPath ? { jwksPath: opts.jwksPath } : {}),
        ttl: KEY_TTL_MS,
        max: 100,
        fetchOptions: fetchOptions as never
      })
    }))
  const pems = new WeakMap<object, string>()
  // Discovery (no fixed JWKS path): the key set is trusted only once the issuer's document was
  // read and named this very issuer (OpenID Connect Discovery §4.3), else tokens are refused.
  let discovered = Boolean(opts.jwksPath)
  let discovering: Promise<string> | undefined
  let lastMiss: Attempt | undefined
  let lastError: string | undefined
  let hydrated = false
  let lastHydrate = -Infinity
  let hydrating: Promise<boolean> | undefined

  async function fetchJwk (kid: string): Promise<JsonWebKey> {
    const jwks = await jwksClient()
    try {
      const jwk = await jwks.getJwk({ domain: opts.issuer, alg: 'RS256', kid }) as JsonWebKey
      lastError = undefined
      return jwk
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code === 'JWK_NOT_FOUND') {
        lastError = undefined
        throw new TokenRejectedError('unknown_kid', kid)
      }
      if (code === 'DOMAIN_NOT_ALLOWED') throw new TokenRejectedError('unknown_issuer')
      lastError = `JWKS of ${opts.issuer} unreachable: ${(err as Error).message}`
      throw new AuthUnavailableError()
    }
  }

  /** The JWKS location named by the issuer's discovery document, after checking its `issuer`. */
  function discover (): Promise<string> {
    discovering ??= (async () => {
      await jwksClient()
      const res = await fetch(`${domain}.well-known/openid-configuration`, { ...fetchOptions, signal: AbortSignal.timeout(JWKS_TIMEOUT_MS) } as RequestInit)
      if (!res.ok) throw new Error(`discovery document: HTTP ${res.status}`)
      const doc = await res.json() as { issuer?: unknown, jwks_uri?: unknown }
      if (doc.issuer !== opts.issuer) {
        // A document that stops naming this issuer withdraws the trust an earlier one gave.
        discovered = false
        throw new Error(`discovery document of ${opts.issuer} names issuer ${JSON.stringify(doc.issuer)}`)
      }
      if (typeof doc.jwks_uri !== 'string' || !URL.canParse(doc.jwks_uri)) throw new Error('discovery document: no valid jwks_uri')
      discovered = true
      return doc.jwks_uri
    })().finally(() => { discovering = undefined })
    return discovering
  }

  async function getKey (kid: string): Promise<string> {
    if (!discovered) {
      if (hydrating) await hydrating
      if (!discovered) {
        // Within the refetch budget, answer from the last attempt instead of asking again.
        if (lastMiss && now() - lastMiss.at < UNKNOWN_KID_INTERVAL_MS) throw new AuthUnavailableError()
        lastMiss = { at: now(), done: Promise.resolve(), unavailable: true }
        try {
          await discover()
        } catch (err) {
          lastError = `JWKS of ${opts.issuer} unusable: ${(err as Error).message}`
          throw new AuthUnavailableError()
        }
        lastMiss = undefined
      }
    }
    const jwks = await jwksClient()
    const key = jwks.generateCacheKey('RS256', kid, domain)
    let jwk: JsonWebKey
    if (jwks.cache.get(key) !== undefined || jwks.staleCache.get(key) !== undefined) {
      // A kid we have seen: get-jwks refreshes it after the TTL and falls back to the stale copy.
      jwk = await fetchJwk(kid)
    } else {
      // A request racing the startup load waits for it rather than fetching the same set again.
      if (hydrating) {
        await hydrating
        if (jwks.cache.get(key) !== undefined) return getKey(kid)
      }
      const t = now()
      if (lastMiss && t - lastMiss.at < UNKNOWN_KID_INTERVAL_MS) {
        // Within the budget: wait for the fetch in flight, then refuse without another one.
        await lastMiss.done.catch(() => {})
        if (jwks.cache.get(key) !== undefined) return getKey(kid)
        if (lastMiss.unavailable) throw new AuthUnavailableError()
        throw new TokenRejectedError('unknown_kid', kid)
      }
      const attempt: Attempt = { at: t, done: Promise.resolve(), unavailable: false }
      const pending = fetchJwk(kid)
      attempt.done = pending.catch((err) => { attempt.unavailable = !(err instanceof TokenRejectedError) })
      lastMiss = attempt
      jwk = await pending
    }
    return toPem(jwk)
  }

  function toPem (jwk: JsonWebKey): string {
    let pem = pems.get(jwk)
    if (pem === undefined) {
      if (jwk.kty !== 'RSA') throw new TokenRejectedError('algorithm', `key type ${String(jwk.kty)}`)
      pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString()
      pems.set(jwk, pem)
    }
    return pem
  }

  function hydrate (): Promise<boolean> {
    hydrating = load().finally(() => { hydrating = undefined })
    return hydrating
  }

  async function load (): Promise<boolean> {
    lastHydrate = now()
    try {
      const jwks = await jwksClient()
      const uri = opts.jwksPath ? domain + opts.jwksPath : await discover()
      const res = await fetch(uri, { ...fetchOptions, signal: AbortSignal.timeout(JWKS_TIMEOUT_MS) } as RequestInit)
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      const body = await res.json() as { keys?: Array<JsonWebKey & { kid?: string, alg?: string, use?: string }> }
      for (const k of body.keys ?? []) {
        if (k.kty !== 'RSA' || !k.kid || (k.alg && k.alg !== 'RS256') || (k.use && k.use !== 'sig')) continue
        jwks.cache.set(jwks.generateCacheKey('RS256', k.kid, domain), k as never)
      }
      hydrated = true
      lastError = undefined
      return true
    } catch (err) {
      lastError = `JWKS of ${opts.issuer} not loaded: ${(err as Error).message}`
      // Counts as this window's fetch: requests in the next 10 s answer 503 at once.
      lastMiss = { at: lastHydrate, done: Promise.resolve(), unavailable: true }
      return false
    }
  }

  return {
    issuer: opts.issuer,
    getKey,
    hydrate,
    async status () {
      if (!hydrated && now() - lastHydrate >= UNKNOWN_KID_INTERVAL_MS) await hydrate()
      return hydrated || lastError === undefined ? { ok: true } : { ok: false, reason: lastError }
    }
  }
}

/** A fixed key set (the local provider's own key): same verification path, nothing to fetch. */
export function createStaticKeyStore (issuer: string, keys: Record<string, string>): KeyStore {
  return {
    issuer,
    async getKey (kid) {
      const pem = keys[kid]
      if (pem === undefined) throw new TokenRejectedError('unknown_kid', kid)
      return pem
    },
    hydrate: async () => true,
    status: async () => ({ ok: true })
  }
}
