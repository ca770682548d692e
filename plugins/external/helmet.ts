import fp from 'fastify-plugin'
import type { FastifyInstance, RouteOptions } from 'fastify'
import helmet from '@fastify/helmet'

/**
 * The console (/console) is served by the gateway and uses only same-origin scripts, styles and
 * WebSockets (CSP3 'self' covers ws:/wss: to the same host), so the default policy allows nothing
 * else. No upgrade-insecure-requests: a plain-HTTP local gateway must keep working.
 */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  imgSrc: ["'self'", 'data:'],
  objectSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'"],
  upgradeInsecureRequests: null
}

/** Swagger UI (React) sets inline styles on the elements it renders: /docs alone allows them. */
const DOCS_CSP = { directives: { ...CSP_DIRECTIVES, styleSrc: ["'self'", "'unsafe-inline'"] } }

async function helmetPlugin (fastify: FastifyInstance): Promise<void> {
  // Registered before the swagger plugin (autoload order), so its /docs routes pass through here.
  fastify.addHook('onRoute', (route: RouteOptions) => {
    if (route.url === '/docs' || route.url.startsWith('/docs/')) {
      route.config = Object.assign(route.config ?? {}, { helmet: { contentSecurityPolicy: DOCS_CSP } })
    }
  })
  await fastify.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    // The API is called from other origins when CORS_ORIGINS allows it: do not block reads there.
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    frameguard: { action: 'deny' },
    // HSTS only means something over HTTPS; behind a TLS-terminating load balancer, set it there.
    strictTransportSecurity: fastify.config.TLS_CERT ? { maxAge: 15552000, includeSubDomains: false } : false
  })
}

export default fp(helmetPlugin, { name: 'helmet' })
