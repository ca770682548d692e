import type { AddressInfo } from 'node:net'
import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { ForbiddenError, MissingScopeError, UnauthorizedError } from '../../src/errors.ts'
import type { Principal, Role } from '../../src/auth/types.ts'
import { authorize } from '../../src/auth/policy.ts'
import { createAuthenticator, rejectReason, type DecodedToken } from '../../src/auth/verifier.ts'
import { describeProviders } from '../../src/auth/providers.ts'
import { countHeader, extractToken, isWebSocketHandshake } from '../../src/auth/extract-token.ts'
import { TokenRejectedError } from '../../src/auth/rejection.ts'
import { createRevocationList, type RevocationList } from '../../src/auth/revocations.ts'
import { localBanner, localBaseUrl, mintBannerTokens, type BannerTokens } from '../../src/auth/banner.ts'
import { loadOrCreateLocalKeys, prepareLocalKeys, type LocalIssuer } from '../../src/auth/local-keys.ts'
import { splitList } from '../../config/load.ts'

export type AuthHook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

const BEARER_PREFIX = 'Bearer '

/** `Bearer ` in any case, without allocating for the usual spelling. */
function isBearer (header: string): boolean {
  return header.length > BEARER_PREFIX.length && (header.startsWith(BEARER_PREFIX) || header.slice(0, BEARER_PREFIX.length).toLowerCase() === 'bearer ')
}

/** What the slow path learns about a request's token on its way through @fastify/jwt. */
interface TokenNotes { token?: string, keyUntil?: number }

/**
 * Bearer-token authentication and role checks for every /v1 route, REST and WebSocket alike
 * (the upgrade request passes through the same onRequest hooks). @fastify/jwt verifies every
 * token, with the key of the configured issuer the token names as its key source.
 */
async function auth (fastify: FastifyInstance): Promise<void> {
  const { config, metrics } = fastify
  const providers = splitList(config.AUTH_PROVIDERS)
  const useLocal = providers.includes('local')
  // A first start generates the local signing key off the event loop (see prepareLocalKeys).
  if (useLocal) await prepareLocalKeys(config.DATA_DIR)
  const localKeys = useLocal ? loadOrCreateLocalKeys(config.DATA_DIR) : undefined
  const revocations = useLocal
    ? createRevocationList(fastify.storage, {
      pollMs: config.LOCAL_TOKEN_REVOCATION_POLL_S * 1000,
      onError: (err) => fastify.log.warn({ err }, 'auth: reading the token revocation list failed')
    })
    : undefined
  await revocations?.poll()
  const authenticator = createAuthenticator(config, { localKeys, revocations, sign: (payload) => fastify.jwt.sign(payload) })
  const notes = new WeakMap<FastifyRequest, TokenNotes>()
  const note = (request: FastifyRequest): TokenNotes => {
    let n = notes.get(request)
    if (n === undefined) notes.set(request, n = {})
    return n
  }
  // The URL and subprotocol token sources exist for browsers opening a WebSocket, so they count
  // only on a real handshake to a route that is a WebSocket route.
  const wsRoutes = new Set<string>()
  fastify.addHook('onRoute', (route) => { if (route.websocket) wsRoutes.add(route.url) })
  const realUpgrade = (request: FastifyRequest): boolean =>
    request.ws === true && wsRoutes.has(request.routeOptions.url ?? '') && isWebSocketHandshake(request.method, request.headers)

  await fastify.register(fastifyJwt, {
    secret: {
      private: localKeys?.privatePem as string,
      public: ((request: FastifyRequest, decoded: DecodedToken) => authenticator.keyFor(decoded).then((key) => {
        note(request).keyUntil = key.until
        return key.pem
      })) as never
    },
    sign: localKeys ? { algorithm: 'RS256', kid: localKeys.kid } : {},
    decode: { complete: true },
    verify: {
      ...authenticator.verifyOptions,
      extractToken: (request: FastifyRequest) => (note(request).token = extractToken({ headers: request.headers, rawHeaders: request.raw.rawHeaders, query: request.query, upgrade: realUpgrade(request) }))
    },
    // Async: @fastify/jwt does not catch a throw from a synchronous `trusted` (the 503 of a stale list).
    trusted: async (_request, claims) => authenticator.trusted(claims as Record<string, unknown>)
  })
  fastify.log.info({ providers: authenticator.providers.map((p) => ({ name: p.name, issuer: p.issuer, audiences: p.audiences })) }, describeProviders(authenticator.providers))
  // Without an audience every token of the issuer is accepted, including tokens minted for other
  // applications of a shared tenant: allowed (a single-app pool needs nothing more), but said loudly.
  if (providers.includes('oidc') && !config.OIDC_AUDIENCE) fastify.log.warn('auth: OIDC_AUDIENCE is empty: any token of OIDC_ISSUER is accepted, whatever application it was issued for')
  if (providers.includes('cognito') && !config.COGNITO_AUDIENCE) fastify.log.warn('auth: COGNITO_AUDIENCE is empty: tokens of every app client of the pool are accepted')

  // Warm the key caches in the background so startup is never held by a slow provider; requests
  // arriving meanwhile wait for this load. Unreachable is not fatal: /readyz reports it.
  const hydration = authenticator.hydrate().then((unreachable) => {
    for (const issuer of unreachable) fastify.log.warn({ issuer }, 'auth: JWKS not reachable at startup; will retry on demand')
  })

  /**
   * The principal of a request whose token was verified before, with no promise in between: the
   * steady state of a busy producer. Only an exact cache hit counts (a cached key is a verified
   * token, so it needs no syntax check); anything else takes the full path and its errors.
   */
  function knownPrincipal (request: FastifyRequest): Principal | undefined {
    if (request.principal) return request.principal
    const header = request.headers.authorization
    if (typeof header !== 'string' || !isBearer(header)) return undefined
    // A second Authorization header is refused by the full path (src/auth/extract-token.ts).
    if (countHeader(request.raw.rawHeaders, 'authorization') > 1) return undefined
    const principal = authenticator.cached(header.slice(BEARER_PREFIX.length))
    if (principal !== undefined) request.principal = principal
    return principal
  }

  async function principalOf (request: FastifyRequest, reply: FastifyReply): Promise<Principal> {
    try {
      const claims = await request.jwtVerify<Record<string, unknown>>()
      const principal = authenticator.accept(claims)
      const { token, keyUntil } = note(request)
      if (token !== undefined) authenticator.remember(token, principal, claims, keyUntil ?? Infinity)
      request.principal = principal
      request.log.debug({ auth: 'accepted', sub: principal.sub, provider: principal.provider, roles: principal.roles }, 'auth decision')
      return principal
    } catch (err) {
      if (err instanceof TokenRejectedError) {
        fail(request, err.reason, err.message)
        throw new UnauthorizedError('')
      }
      const e = err as { code?: string, message?: string, retryAfterS?: number }
      if (e.code === 'QUIVER_AUTH_UNAVAILABLE') {
        // A key newer than this window's fetch: retry when the next fetch may run.
        if (e.retryAfterS !== undefined) reply.header('retry-after', String(e.retryAfterS))
        fail(request, 'unavailable', 'identity provider unreachable and key not cached')
        throw err
      }
      const reason = rejectReason(e)
      if (reason === undefined) throw err
      fail(request, reason, e.message ?? '')
      throw new UnauthorizedError('')
    }
  }

  function fail (request: FastifyRequest, reason: string, detail: string): void {
    metrics.authFailures.inc({ reason })
    request.log.debug({ auth: 'rejected', reason, detail }, 'auth decision')
  }

  // Callback hooks, not async ones: a cached token completes without a promise or a microtask.
  const authenticate: AuthHook = (request, reply, done) => {
    if (knownPrincipal(request) !== undefined) return done()
    principalOf(request, reply).then(() => done(), done)
  }

  function requireRole (role: Role): AuthHook {
    const required = authenticator.policy.requiredScopes[role]
    const decide = (request: FastifyRequest, principal: Principal, done: HookHandlerDoneFunction): void => {
      const decision = authorize(principal, role, required)
      if (decision.ok) {
        request.log.debug({ auth: 'allowed', sub: principal.sub, role }, 'auth decision')
        return done()
      }
      if (decision.error === 'forbidden') {
        fail(request, 'forbidden', `${principal.sub} lacks the ${role} role`)
        return done(new ForbiddenError(role))
      }
      fail(request, 'missing_scope', `${principal.sub} lacks ${decision.missing.join(' ')}`)
      // Name what the level needs, not what the caller holds or lacks.
      done(new MissingScopeError(role, required.join(' ')))
    }
    return (request, reply, done) => {
      const known = knownPrincipal(request)
      if (known !== undefined) return decide(request, known, done)
      principalOf(request, reply).then((principal) => decide(request, principal, done), done)
    }
  }

  fastify.decorateRequest('principal', null)
  fastify.decorate('authenticate', authenticate)
  fastify.decorate('requireRole', requireRole)
  fastify.decorate('authStatus', () => authenticator.status())
  fastify.decorate('localTokens', authenticator.local ?? null)
  fastify.decorate('tokenRevocations', revocations ?? null)

  // LOG_LEVEL=silent asks for no output at all: no banner either (the tokens stay mintable).
  if (authenticator.local && revocations && config.LOG_LEVEL !== 'silent') {
    const local = authenticator.local
    let tokens: BannerTokens | undefined
    // Minted before listening and recorded like POST /v1/admin/tokens does, so each is revocable;
    // a token that could not be recorded is not handed out.
    fastify.addHook('onReady', async () => {
      tokens = await mintBannerTokens(local, config.CONSOLE_LINK_TTL_S, async (r) => { await revocations.recordMint(r) })
        .catch((err: Error) => {
          fastify.log.warn({ err }, 'auth: the startup tokens could not be recorded in storage (they would not be revocable): none printed')
          return undefined
        })
    })
    fastify.addHook('onListen', async () => {
      if (tokens === undefined) return
      const address = fastify.server.address() as AddressInfo | null
      const url = localBaseUrl(config.HOST, address?.port ?? config.PORT, Boolean(config.TLS_CERT))
      process.stdout.write(localBanner(tokens, url))
      tokens = undefined
    })
  }

  fastify.addHook('onClose', async () => {
    await hydration
    await authenticator.close()
  })
}

export default fp(auth, { name: 'auth', dependencies: ['metrics', 'storage'] })

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook: any valid token. */
    authenticate: AuthHook
    /** onRequest hook factory: a valid token holding `role` (and the level's required scopes). */
    requireRole: (role: Role) => AuthHook
    /** For /readyz: false while no configured provider's keys can be loaded. */
    authStatus: () => Promise<{ ok: boolean, reason?: string }>
    /** The local provider's token minter, null unless AUTH_PROVIDERS includes local. */
    localTokens: LocalIssuer | null
    /** Minted local tokens' records and revocations (in storage), null unless AUTH_PROVIDERS includes local. */
    tokenRevocations: RevocationList | null
  }
  interface FastifyRequest {
    principal: Principal | null
  }
}
