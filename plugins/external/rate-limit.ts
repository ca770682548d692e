import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import { RateLimitedError } from '../../src/errors.ts'

/**
 * RATE_LIMIT_MAX requests per minute on /v1 routes, per principal (`sub`) when the request carries
 * a verified token, else per client IP.
 *
 * Wiring: authentication runs in each /v1 route's `onRequest` hook (routes/v1/autohooks.ts), so this
 * limiter runs in `preHandler`, after every `onRequest` hook: `request.principal` is set by then
 * and the key is the verified `sub`, never a claim read from an unverified token (which would let
 * anyone burn another principal's quota). Consequence: requests rejected by auth (401/403) are
 * not counted here. WebSocket upgrades pass through the same hooks, so a 429 refuses the upgrade.
 * Behind a load balancer, set Fastify's trustProxy for the IP fallback to see client addresses.
 */
export function rateLimitKey (request: FastifyRequest): string {
  const sub = request.principal?.sub
  return sub ? `sub:${request.principal!.provider}:${sub}` : `ip:${request.ip}`
}

/** True for requests Fastify routed to a /v1 route, however the client spelled the URL. */
export function isApiRoute (request: FastifyRequest): boolean {
  return (request.routeOptions.url ?? '').startsWith('/v1/')
}

async function rateLimitPlugin (fastify: FastifyInstance): Promise<void> {
  const max = fastify.config.RATE_LIMIT_MAX
  if (max === 0) return
  await fastify.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max,
    timeWindow: 60_000,
    // Health checks, metrics scrapes, docs and the console are not API traffic. Decided on the
    // routed path, never the raw URL: `/%761/topics` routes to /v1/topics and counts as it.
    allowList: (request) => !isApiRoute(request),
    keyGenerator: rateLimitKey,
    errorResponseBuilder: (_request, context) => new RateLimitedError(Math.max(1, Math.ceil(context.ttl / 1000))),
    cache: 10_000
  })
}

export default fp(rateLimitPlugin, { name: 'rate-limit' })
