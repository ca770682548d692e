import type { AddressInfo } from 'node:net'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { ForbiddenError, MissingScopeError, UnauthorizedError } from '../../src/errors.ts'
import type { Principal, Role } from '../../src/auth/types.ts'
import { authorize } from '../../src/auth/policy.ts'
import { createAuthenticator } from '../../src/auth/verifier.ts'
import { extractToken } from '../../src/auth/extract-token.ts'
import { TokenRejectedError } from '../../src/auth/rejection.ts'
import { localBanner, localBaseUrl } from '../../src/auth/banner.ts'
import { prepareLocalKeys, type LocalIssuer } from '../../src/auth/local-keys.ts'
import { splitList } from '../../config/load.ts'

export type AuthHook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

const BEARER_PREFIX = 'Bearer '

/** `Bearer ` in any case, without allocating for the usual spelling. */
function isBearer (header: string): boolean {
  return header.length > BEARER_PREFIX.length && (header.startsWith(BEARER_PREFIX) || header.slice(0, BEARER_PREFIX.length).toLowerCase() === 'bearer ')
}

/**
 * Bearer-token authentication and role checks for every /v1 route, REST and WebSocket alike
 * (the upgrade request passes through the same onRequest hooks).
 */
async function auth (fastify: FastifyInstance): Promise<void> {
  const { config, metrics } = fastify
  const providers = splitList(config.AUTH_PROVIDERS)
  // A first start generates the local signing key off the event loop (see prepareLocalKeys).
  if (providers.includes('local')) await prepareLocalKeys(config.DATA_DIR)
  const authenticator = createAuthenticator(config)
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
    const principal = authenticator.cached(header.slice(BEARER_PREFIX.length))
    if (principal !== undefined) request.principal = principal
    return principal
  }

  async function principalOf (request: FastifyRequest): Promise<Principal> {
    try {
      const principal = await authenticator.verify(extractToken({ headers: request.headers, query: request.query }))
      request.principal = principal
      request.log.debug({ auth: 'accepted', sub: principal.sub, provider: principal.provider, roles: principal.roles }, 'auth decision')
      return principal
    } catch (err) {
      if (err instanceof TokenRejectedError) {
        fail(request, err.reason, err.message)
        throw new UnauthorizedError('')
      }
      if ((err as { code?: string }).code === 'QUIVER_AUTH_UNAVAILABLE') {
        fail(request, 'unavailable', 'identity provider unreachable and key not cached')
        throw err
      }
      throw err
    }
  }

  function fail (request: FastifyRequest, reason: string, detail: string): void {
    metrics.authFailures.inc({ reason })
    request.log.debug({ auth: 'rejected', reason, detail }, 'auth decision')
  }

  // Callback hooks, not async ones: a cached token completes without a promise or a microtask.
  const authenticate: AuthHook = (request, _reply, done) => {
    if (knownPrincipal(request) !== undefined) return done()
    principalOf(request).then(() => done(), done)
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
    return (request, _reply, done) => {
      const known = knownPrincipal(request)
      if (known !== undefined) return decide(request, known, done)
      principalOf(request).then((principal) => decide(request, principal, done), done)
    }
  }

  fastify.decorateRequest('principal', null)
  fastify.decorate('authenticate', authenticate)
  fastify.decorate('requireRole', requireRole)
  fastify.decorate('authStatus', () => authenticator.status())
  fastify.decorate('localTokens', authenticator.local ?? null)

  // LOG_LEVEL=silent asks for no output at all: no banner either (the tokens stay mintable).
  if (authenticator.local && config.LOG_LEVEL !== 'silent') {
    const local = authenticator.local
    let printed = false
    fastify.addHook('onListen', async () => {
      if (printed) return
      printed = true
      const address = fastify.server.address() as AddressInfo | null
      const url = localBaseUrl(config.HOST, address?.port ?? config.PORT, Boolean(config.TLS_CERT))
      process.stdout.write(localBanner(local, url))
    })
  }

  fastify.addHook('onClose', async () => {
    await hydration
    await authenticator.close()
  })
}

export default fp(auth, { name: 'auth', dependencies: ['metrics'] })

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
  }
  interface FastifyRequest {
    principal: Principal | null
  }
}
