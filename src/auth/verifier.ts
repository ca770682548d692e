import { createDecoder, createVerifier, TokenError } from 'fast-jwt'
import type { Config } from '../../config/schema.ts'
import { splitList } from '../../config/load.ts'
import type { Principal } from './types.ts'
import { createPolicy, toPrincipal, type Policy } from './policy.ts'
import { createJwksDispatcher } from './jwks.ts'
import { createLocalIssuer, loadOrCreateLocalKeys, type LocalIssuer } from './local-keys.ts'
import { createCognitoProvider, createLocalProvider, createOidcProvider, type Provider } from './providers.ts'
import { TokenRejectedError, type RejectReason } from './rejection.ts'
import { createTokenCache } from './token-cache.ts'

export const CLOCK_SKEW_MS = 60_000

export interface Authenticator {
  policy: Policy
  providers: Provider[]
  local?: LocalIssuer
  /** Principal for a token, or TokenRejectedError (401) / AuthUnavailableError (503). */
  verify (token: string): Promise<Principal>
  /** The principal of a token verified earlier and not expired, synchronously; else undefined. */
  cached (token: string): Principal | undefined
  /** Loads every remote key set; returns the issuers that could not be reached. */
  hydrate (): Promise<string[]>
  status (): Promise<{ ok: boolean, reason?: string }>
  close (): Promise<void>
}

const FAST_JWT_REASONS: Record<string, RejectReason> = {
  [TokenError.codes.expired]: 'expired',
  [TokenError.codes.inactive]: 'not_yet_valid',
  [TokenError.codes.invalidSignature]: 'bad_signature',
  [TokenError.codes.missingSignature]: 'bad_signature',
  [TokenError.codes.invalidAlgorithm]: 'algorithm',
  [TokenError.codes.invalidKey]: 'algorithm',
  [TokenError.codes.malformed]: 'malformed',
  [TokenError.codes.invalidType]: 'malformed',
  [TokenError.codes.invalidPayload]: 'malformed'
}

type VerifyFn = (token: string) => Record<string, unknown>

/**
 * The one JWT path for every provider: decode without trusting, pick the provider by `iss`
 * among the configured ones, fetch the key from that provider's own JWKS, verify RS256 and the
 * times with fast-jwt (the engine of @fastify/jwt), apply the provider's claim rules, map to a
 * Principal. Verified principals are cached by token until they expire.
 */
export function createAuthenticator (config: Config, opts: { now?: () => number } = {}): Authenticator {
  const now = opts.now ?? Date.now
  const names = splitList(config.AUTH_PROVIDERS)
  const dispatcher = createJwksDispatcher()
  const providers: Provider[] = []
  let local: LocalIssuer | undefined
  if (names.includes('cognito')) providers.push(createCognitoProvider(config, dispatcher))
  if (names.includes('oidc')) providers.push(createOidcProvider(config, dispatcher))
  if (names.includes('local')) {
    local = createLocalIssuer(loadOrCreateLocalKeys(config.DATA_DIR), config.SCOPE_PREFIX, now)
    providers.push(createLocalProvider(local))
  }
  const byIssuer = new Map(providers.map((p) => [p.issuer, p]))
  const policy = createPolicy(config)
  const decode = createDecoder({ complete: true })
  const verifiers = new Map<string, VerifyFn>()
  const cache = createTokenCache<Principal>(10_000)

  function verifierFor (provider: Provider, pem: string): VerifyFn {
    const key = `${provider.issuer}\n${pem}`
    let fn = verifiers.get(key)
    if (!fn) {
      fn = createVerifier({
        key: pem,
        algorithms: ['RS256'],
        allowedIss: provider.issuer,
        clockTolerance: CLOCK_SKEW_MS,
        requiredClaims: ['exp', 'iss', 'sub'],
        cache: false
      }) as VerifyFn
      verifiers.set(key, fn)
    }
    return fn
  }

  async function verify (token: string): Promise<Principal> {
    const hit = cache.get(token, now())
    if (hit) return hit
    let decoded: { header: Record<string, unknown>, payload: unknown }
    try {
      decoded = decode(token) as typeof decoded
    } catch {
      throw new TokenRejectedError('malformed')
    }
    const { header, payload } = decoded
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new TokenRejectedError('malformed', 'payload is not an object')
    const claims = payload as Record<string, unknown>
    // Only issuers from configuration are candidates; an unknown iss never causes a fetch.
    const provider = typeof claims.iss === 'string' ? byIssuer.get(claims.iss) : undefined
    if (!provider) throw new TokenRejectedError('unknown_issuer')
    if (header.alg !== 'RS256') throw new TokenRejectedError('algorithm', String(header.alg))
    if (typeof header.kid !== 'string' || header.kid === '') throw new TokenRejectedError('unknown_kid', 'no kid')
    const pem = await provider.keys.getKey(header.kid)
    let verified: Record<string, unknown>
    try {
      verified = verifierFor(provider, pem)(token)
    } catch (err) {
      const code = (err as { code?: string }).code ?? ''
      throw new TokenRejectedError(FAST_JWT_REASONS[code] ?? 'claims', (err as Error).message)
    }
    const tokenUse = provider.checkClaims(verified)
    const principal = toPrincipal(policy, verified, { provider: provider.name, tokenUse, groupsClaim: provider.groupsClaim })
    cache.set(token, principal, (verified.exp as number) * 1000 + CLOCK_SKEW_MS)
    return principal
  }

  return {
    policy,
    providers,
    local,
    verify,
    cached: (token) => cache.get(token, now()),
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
      await dispatcher.close()
    }
  }
}
