import type { FastifyInstance } from 'fastify'
import type { Role } from '../../src/auth/types.ts'

/** What a /v1 route needs from the caller: a role, or just a valid token (`any`). */
export type RouteRole = Role | 'any'

/**
 * Authentication for every /v1 route, REST and WebSocket alike (the upgrade request passes
 * through the same onRequest hooks). Each route names its role in `config.role`; the hook is
 * chosen once, when the route is added, so a request pays for no lookup. A route without a role
 * fails the start: nothing under /v1 is open by omission.
 */
export default async function authHooks (fastify: FastifyInstance): Promise<void> {
  fastify.addHook('onRoute', (route) => {
    const role = route.config?.role
    if (role === undefined) throw new Error(`${route.method} ${route.url}: routes under /v1 declare config.role (read, write, admin or any)`)
    const hook = role === 'any' ? fastify.authenticate : fastify.requireRole(role)
    const own = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
    route.onRequest = [hook, ...own]
  })
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Required by every route under /v1 (routes/v1/autohooks.ts). */
    role?: RouteRole
  }
}
