import { TokenError } from 'fast-jwt'
import type { Config } from '../../config/schema.ts'
import { splitList } from '../../config/load.ts'
import { AuthUnavailableError } from '../errors.ts'
import type { Principal } from './types.ts'
import { createPolicy, toPrincipal, type Policy } from './policy.ts'
import { createJwksDispatcher, type KeyLookup } from './jwks.ts'
import { createLocalIssuer, type LocalIssuer, type LocalKeys, type SignFn } from './local-keys.ts'
import { createCognitoProvider, createLocalProvider, createOidcProvider, type Provider } from './providers.ts'
import { TokenRejectedError, type RejectReason } from './rejection.ts'
import type { RevocationList } from './revocations.ts'
import { createTokenCache } from './token-cache.ts'

export const CLOCK_SKEW_MS = 60_000

export interface DecodedToken { header: Record<string, unknown>, payload: unknown }

export interface Authenticator {
  policy: Policy
  providers: Provider[]
  local?: LocalIssuer
  /** The options @fastify/jwt verifies every token with: RS256 only, configured issuers only, 60 s skew. */
  verifyOptions: { algorithms: ['RS256'], allowedIss: string[], clockTolerance: number, requiredClaims: string[], cache: false }
  /** @fastify/jwt's key source: the key of the configured issuer the token names (never a URL from the token). */
  keyFor (decoded: DecodedToken): Promise<KeyLookup>
  /** @fastify/jwt's `trusted`: false for a revoked minted token; throws 503 while the revocation list is stale. */
  trusted (claims: Record<string, unknown>): boolean
  /** After verification: the issuer's claim rules (token_use, client_id/aud), then the principal. */
  accept (claims: Record<string, unknown>): Principal
  /** Keeps a verified principal until the token expires or its key must be checked again. */
  remember (token: string, principal: Principal, claims: Record<string, unknown>, keyUntil: number): void
  /** The principal of a token verified earlier and still trusted, synchronously; else undefined. */
  cached (token: string): Principal | undefined
  /** Loads every remote key set; returns the issuers that could not be reached. */
  hydrate (): Promise<string[]>
  status (): Promise<{ ok: boolean, reason?: string }>
  close (): Promise<void>
}

export interface AuthenticatorOptions {
  now?: () => number
  /** The local provider's key (when AUTH_PROVIDERS includes local) and the signer it mints with. */
  localKeys?: LocalKeys
  sign?: SignFn
  revocations?: RevocationList
}

/** Why @fastify/jwt (or fast-jwt under it) refused a token, for the metric and the debug log. */
export function rejectReason (err: { code?: string, message?: string }): RejectReason | undefined {
  switch (err.code) {
    case 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED': return 'expired'
    case 'FST_JWT_AUTHORIZATION_TOKEN_UNTRUSTED': return 'revoked'
    case 'FAST_JWT_MISSING_SIGNATURE': return 'bad_signature'
    case 'FST_JWT_AUTHORIZATION_TOKEN_INVALID': {
      const m = err.message ?? ''
      return /signature/i.test(m) ? 'bad_signature' : /malformed|invalid (header|payload)|json/i.test(m) ? 'malformed' : 'claims'
    }
    case TokenError.codes.invalidSignature: return 'bad_signature' // e.g. a signature that is not base64url
    case TokenError.codes.verifyError: return 'bad_signature'
    case TokenError.codes.expired: return 'expired'
    case TokenError.codes.missingKey: return 'unknown_kid'
    case TokenError.codes.invalidCritHeader: return 'malformed'
    case TokenError.codes.inactive: return 'not_yet_valid'
    case TokenError.codes.invalidAlgorithm: return 'algorithm'
    case TokenError.codes.invalidKey: return 'algorithm'
    case TokenError.codes.malformed: return 'malformed'
    case TokenError.codes.invalidType: return 'malformed'
    case TokenError.codes.invalidPayload: return 'malformed'
    case TokenError.codes.invalidClaimType:
    case TokenError.codes.invalidClaimValue:
    case TokenError.codes.missingRequiredClaim: return 'claims'
  }
  // Fail closed: any other refusal of the JWT libraries is a bad token (401), never a 500.
  return /^(FAST|FST)_JWT_/.test(err.code ?? '') ? 'malformed' : undefined
}

/** `jti` only for local tokens: the revocation list covers minted tokens. */
interface Cached { principal: Principal, jti: string | undefined }

/**
 * The auth policy around @fastify/jwt: which issuers are candidates (configuration only), where
 * each one's keys come from, what each one's claims must say after verification, and a cache of
 * verified principals so a busy producer's repeated token costs a map lookup.
 */
export function createAuthenticator (config: Config, opts: AuthenticatorOptions = {}): Authenticator {
  const now = opts.now ?? Date.now
  const names = splitList(config.AUTH_PROVIDERS)
  const dispatcher = createJwksDispatcher(config.JWKS_FETCH_TIMEOUT_MS)
  const ttlMs = config.JWKS_CACHE_TTL_S * 1000
  const providers: Provider[] = []
  let local: LocalIssuer | undefined
  if (names.includes('cognito')) providers.push(createCognitoProvider(config, dispatcher, ttlMs))
  if (names.includes('oidc')) providers.push(createOidcProvider(config, dispatcher, ttlMs))
  if (names.includes('local') && opts.localKeys) {
    local = createLocalIssuer(opts.localKeys, config.SCOPE_PREFIX, now, opts.sign)
    providers.push(createLocalProvider(local))
  }
  const byIssuer = new Map(providers.map((p) => [p.issuer, p]))
  const policy = createPolicy(config)
  const cache = createTokenCache<Cached>(10_000)
  const revocations = opts.revocations

  function providerOf (claims: Record<string, unknown>): Provider {
    const provider = typeof claims.iss === 'string' ? byIssuer.get(claims.iss) : undefined
    // Debug log only: the token's iss (truncated, it is the caller's text) beside the configured ones.
    if (!provider) throw new TokenRejectedError('unknown_issuer', `token iss ${JSON.stringify(claims.iss)?.slice(0, 200)}, expected ${[...byIssuer.keys()].join(' or ')}`)
    return provider
  }

  return {
    policy,
    providers,
    local,
    verifyOptions: { algorithms: ['RS256'], allowedIss: [...byIssuer.keys()], clockTolerance: CLOCK_SKEW_MS, requiredClaims: ['exp', 'iss', 'sub'], cache: false },
    async keyFor ({ header, payload }) {
      if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new TokenRejectedError('malformed', 'payload is not an object')
      // Only issuers from configuration are candidates; an unknown iss never causes a fetch.
      const provider = providerOf(payload as Record<string, unknown>)
      if (header.alg !== 'RS256') throw new TokenRejectedError('algorithm', String(header.alg))
      if (typeof header.kid !== 'string' || header.kid === '') throw new TokenRejectedError('unknown_kid', 'no kid')
      return await provider.keys.getKey(header.kid)
    },
    trusted (claims) {
      if (claims.iss !== local?.issuer || revocations === undefined) return true
      if (!revocations.fresh()) throw new AuthUnavailableError()
      return typeof claims.jti !== 'string' || !revocations.has(claims.jti)
    },
    accept (claims) {
      const provider = providerOf(claims)
      const tokenUse = provider.checkClaims(claims)
      return toPrincipal(policy, claims, { provider: provider.name, tokenUse, groupsClaim: provider.groupsClaim })
    },
    remember (token, principal, claims, keyUntil) {
      const until = Math.min((claims.exp as number) * 1000 + CLOCK_SKEW_MS, keyUntil)
      cache.set(token, { principal, jti: principal.provider === 'local' && typeof claims.jti === 'string' ? claims.jti : undefined }, until)
    },
    cached (token) {
      const hit = cache.get(token, now())
      if (hit === undefined) return undefined
      // A revoked or unverifiable minted token takes the full path, which refuses it.
      if (hit.jti !== undefined && revocations !== undefined && (revocations.has(hit.jti) || !revocations.fresh())) return undefined
      return hit.principal
    },
    async hydrate () {
      const results = await Promise.all(providers.map(async (p) => ({ p, ok: await p.keys.hydrate() })))
      return results.filter((r) => !r.ok).map((r) => r.p.issuer)
    },
    async status () {
      const states = await Promise.all(providers.map((p) => p.keys.status()))
      const bad = states.filter((s) => !s.ok).map((s) => s.reason)
      return bad.length === 0 ? { ok: true } : { ok: false, reason: bad.join('; ') }
    },
    async close () {
      cache.clear()
      revocations?.close()
      await dispatcher.close()
    }
  }
}
