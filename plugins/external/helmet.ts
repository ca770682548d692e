import type { IncomingMessage, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import helmet, { type HelmetOptions } from 'helmet'

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

/**
 * The headers helmet sets for `options`. Nothing in our policy varies per request (no nonces, no
 * directive functions), so they are computed once; @fastify/helmet rebuilt the whole helmet
 * middleware, CSP parsing included, on every request (9 % of a small request's CPU).
 */
export function helmetHeaders (options: HelmetOptions): Array<[string, string]> {
  const headers = new Map<string, string>()
  const res = {
    setHeader (name: string, value: string) { headers.set(name.toLowerCase(), String(value)) },
    removeHeader (name: string) { headers.delete(name.toLowerCase()) }
  }
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => { if (err) throw err })
  return [...headers]
}

async function helmetPlugin (fastify: FastifyInstance): Promise<void> {
  const options: HelmetOptions = {
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    // The API is called from other origins when CORS_ORIGINS allows it: do not block reads there.
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    frameguard: { action: 'deny' },
    // HSTS only means something over HTTPS; behind a TLS-terminating load balancer, set it there.
    strictTransportSecurity: fastify.config.TLS_CERT ? { maxAge: 15552000, includeSubDomains: false } : false
  }
  const api = helmetHeaders(options)
  // Swagger UI (React) sets inline styles on the elements it renders: /docs alone allows them.
  const docs = helmetHeaders({ ...options, contentSecurityPolicy: { useDefaults: false, directives: { ...CSP_DIRECTIVES, styleSrc: ["'self'", "'unsafe-inline'"] } } })

  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const url = request.routeOptions.url
    const headers = url !== undefined && (url === '/docs' || url.startsWith('/docs/')) ? docs : api
    const res = reply.raw
    for (let i = 0; i < headers.length; i++) res.setHeader(headers[i][0], headers[i][1])
    done()
  })
}

export default fp(helmetPlugin, { name: 'helmet' })
