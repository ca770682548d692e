import { createPublicKey, type JsonWebKey } from 'node:crypto'
import type buildGetJwks from 'get-jwks'
import type { Dispatcher } from 'undici'
import { AuthUnavailableError } from '../errors.ts'
import { TokenRejectedError } from './rejection.ts'
import { discoverJwksUri } from './discovery.ts'

/** JWKS_FETCH_TIMEOUT_MS' default: each of a key fetch's phases (connect, headers, body) and the whole fetch. */
export const JWKS_TIMEOUT_MS = 3000
/** One outbound fetch (discovery or key set) per issuer per window, whatever the traffic. */
export const FETCH_INTERVAL_MS = 10_000

/**
 * get-jwks's own `timeout` is ignored by global fetch; an undici dispatcher bounds every phase.
 * Made on first use: undici and get-jwks are a fifth of the gateway's modules (about 150 ms of a
 * cold start), and a gateway with only the local provider never fetches a key set.
 */
export interface JwksDispatcher {
  /** The longest a discovery or key set fetch may take (JWKS_FETCH_TIMEOUT_MS). */
  readonly timeoutMs: number
  get (): Promise<Dispatcher>
  close (): Promise<void>
}

export function createJwksDispatcher (timeoutMs = JWKS_TIMEOUT_MS): JwksDispatcher {
  let agent: Promise<Dispatcher> | undefined
  return {
    timeoutMs,
    get: () => (agent ??= import('undici').then(({ Agent }) => new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }))),
    async close () {
      if (agent) await (await agent).close()
    }
  }
}

/** A verification key and the instant (ms) until which it may be trusted without asking again. */
export interface KeyLookup { pem: string, until: number }

export interface KeyStore {
  issuer: string
  /** The key for `kid`; TokenRejectedError (401) or AuthUnavailableError (503, maybe with retryAfterS). */
  getKey (kid: string): Promise<KeyLookup>
  /** Loads the whole key set ahead of the first request; false when the provider is unreachable. */
  hydrate (): Promise<boolean>
  /** Usable while the key set fetched last is within its TTL; otherwise tries a fetch (within the fetch budget). */
  status (): Promise<{ ok: boolean, reason?: string }>
}

export interface RemoteKeyStoreOptions {
  issuer: string
  /** JWKS path under the issuer, fixed by configuration; when absent it comes from discovery. */
  jwksPath?: string
  dispatcher: JwksDispatcher
  /** How long a fetched key is trusted (JWKS_CACHE_TTL_S): a key the provider removed is refused after it. */
  ttlMs: number
  now?: () => number
}

type Jwk = JsonWebKey & { kid?: unknown, alg?: unknown, use?: unknown }

/** Only RSA signature keys for RS256: `use` absent or sig, `alg` absent or RS256 (an enc key never verifies). */
export function isSigningKey (k: Jwk): k is Jwk & { kid: string } {
  return k.kty === 'RSA' && typeof k.kid === 'string' && k.kid !== '' &&
    (k.use === undefined || k.use === 'sig') && (k.alg === undefined || k.alg === 'RS256')
}

type Fetched = { ok: true } | { ok: false }

/**
 * One issuer's signing keys. get-jwks is the key cache (its LRU with the TTL, its cache keys);
 * the fetching is ours, because get-jwks's own path breaks three rules (measured): it falls back
 * to a stale copy on any error and refreshes that copy whenever an entry is deleted (a removed
 * kid stayed trusted for hours), it fetches the whole set per unknown kid but keeps one key (so
 * one junk kid spends the budget a rotated key needed), and it re-reads discovery on each fetch
 * (so the checked jwks_uri is not the one used). Here: one fetch of the pinned jwks_uri refreshes
 * every kid, at most one fetch per FETCH_INTERVAL_MS, and nothing stale is ever used.
 */
export function createRemoteKeyStore (opts: RemoteKeyStoreOptions): KeyStore {
  const now = opts.now ?? Date.now
  const domain = opts.issuer.endsWith('/') ? opts.issuer : `${opts.issuer}/`
  const fetchOptions: { dispatcher?: Dispatcher } = {}
  let client: Promise<ReturnType<typeof buildGetJwks>> | undefined
  const jwksClient = (): Promise<ReturnType<typeof buildGetJwks>> => (client ??= Promise.all([import('get-jwks'), opts.dispatcher.get()])
    .then(([{ default: build }, dispatcher]) => {
      fetchOptions.dispatcher = dispatcher
      const jwks = build({ issuersWhitelist: [opts.issuer], ttl: opts.ttlMs, max: 1000 })
      // Never keep a stale copy: get-jwks fills it on every delete and expiry (its internals,
      // pinned; test/internals.test.ts).
      jwks.staleCache.set = () => {}
      return jwks
    }))
  const pems = new WeakMap<object, string>()
  const seen = new Set<string>()
  const removed = new Set<string>()
  /** Kids the last fetch listed with a type, use or alg that cannot verify an RS256 signature. */
  const unusable = new Set<string>()
  let jwksUri = opts.jwksPath ? domain + opts.jwksPath : undefined
  let lastFetchAt = -Infinity
  let lastFetch: Fetched = { ok: false }
  let inflight: Promise<Fetched> | undefined
  let lastError: string | undefined
  /** Until when the last key set fetched may be trusted (every kid is set again by each fetch). */
  let validUntil = -Infinity

  async function fetchSet (): Promise<Fetched> {
    try {
      const jwks = await jwksClient()
      // The jwks_uri is pinned from the first discovery document that named this issuer.
      jwksUri ??= await discoverJwksUri(opts.issuer, fetchOptions, opts.dispatcher.timeoutMs)
      const res = await fetch(jwksUri, { ...fetchOptions, signal: AbortSignal.timeout(opts.dispatcher.timeoutMs) } as RequestInit)
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      const body = await res.json() as { keys?: unknown }
      if (!Array.isArray(body.keys)) throw new Error('no keys array')
      const present = new Set<string>()
      unusable.clear()
      for (const k of body.keys as Jwk[]) {
        if (k === null || typeof k !== 'object') continue
        if (!isSigningKey(k)) {
          if (typeof k.kid === 'string') unusable.add(k.kid)
          continue
        }
        present.add(k.kid)
        jwks.cache.set(jwks.generateCacheKey('RS256', k.kid, domain), k as never)
      }
      for (const kid of seen) {
        if (present.has(kid)) continue
        jwks.cache.delete(jwks.generateCacheKey('RS256', kid, domain))
        removed.add(kid)
        seen.delete(kid)
      }
      for (const kid of present) {
        seen.add(kid)
        removed.delete(kid)
      }
      validUntil = now() + opts.ttlMs
      lastError = undefined
      return { ok: true }
    } catch (err) {
      lastError = `JWKS of ${opts.issuer} not loaded: ${(err as Error).message}`
      return { ok: false }
    }
  }

  /** Starts a fetch unless one is running or the window's fetch was spent; undefined then. */
  function refresh (): Promise<Fetched> | undefined {
    if (inflight) return inflight
    if (now() - lastFetchAt < FETCH_INTERVAL_MS) return undefined
    lastFetchAt = now()
    inflight = fetchSet().then((r) => { lastFetch = r; return r }).finally(() => { inflight = undefined })
    return inflight
  }

  function unavailable (): Error {
    const err: Error & { retryAfterS?: number } = new AuthUnavailableError()
    err.retryAfterS = Math.max(1, Math.ceil((lastFetchAt + FETCH_INTERVAL_MS - now()) / 1000))
    return err
  }

  async function cached (kid: string): Promise<KeyLookup | undefined> {
    const jwks = await jwksClient()
    const key = jwks.generateCacheKey('RS256', kid, domain)
    const jwk = jwks.cache.get(key) as object | undefined
    if (jwk === undefined) return undefined
    const left = (jwks.cache as unknown as { getRemainingTTL (k: string): number }).getRemainingTTL(key)
    let pem = pems.get(jwk)
    if (pem === undefined) {
      pem = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString()
      pems.set(jwk, pem)
    }
    return { pem, until: now() + Math.max(0, Math.min(left, opts.ttlMs)) }
  }

  async function getKey (kid: string): Promise<KeyLookup> {
    const hit = await cached(kid)
    if (hit) return hit
    // Gone from the provider's set since we last had it: refused, no fetch.
    if (removed.has(kid)) throw new TokenRejectedError('unknown_kid', `${kid} was removed from the key set`)
    if (unusable.has(kid)) throw new TokenRejectedError('algorithm', `${kid} is not an RS256 signature key`)
    const running = refresh()
    if (running === undefined) {
      // This window's fetch is spent (maybe by a junk kid): the key may be newer than it, so
      // the caller retries once the window ends instead of being told the token is bad.
      throw unavailable()
    }
    const result = await running
    const after = await cached(kid)
    if (after) return after
    if (!result.ok) throw unavailable()
    throw new TokenRejectedError('unknown_kid', kid)
  }

  return {
    issuer: opts.issuer,
    getKey,
    async hydrate () {
      const started = refresh()
      const result = await (started ?? Promise.resolve(lastFetch))
      // A successful start-up load leaves the window open: the first unknown kid may still fetch.
      if (started && result.ok && inflight === undefined) lastFetchAt = -Infinity
      return result.ok
    },
    async status () {
      // Usable while the keys last fetched are within JWKS_CACHE_TTL_S, as getKey trusts them: past
      // it (or never loaded) one fetch is tried, within the fetch window. Before, one load at start
      // made the provider "ok" for good, while every token got 503 once the issuer stayed down.
      if (now() >= validUntil) await (refresh() ?? inflight)
      if (now() < validUntil) return { ok: true }
      return { ok: false, reason: lastError ?? `JWKS of ${opts.issuer}: the keys fetched last are older than JWKS_CACHE_TTL_S and the next fetch is not due yet` }
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
      return { pem, until: Infinity }
    },
    hydrate: async () => true,
    status: async () => ({ ok: true })
  }
}
