import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import cors from '@fastify/cors'
import { splitList } from '../../config/load.ts'

/**
 * CORS is closed unless CORS_ORIGINS lists the browser origins allowed to call the API
 * (the /console page is same-origin and needs none). `*` is honoured but never combined with
 * credentials: tokens travel in the Authorization header, not cookies.
 */
async function corsPlugin (fastify: FastifyInstance): Promise<void> {
  const origins = splitList(fastify.config.CORS_ORIGINS)
  if (origins.length === 0) return
  await fastify.register(cors, {
    origin: origins.includes('*') ? '*' : origins,
    // PATCH evolves a schema; Idempotency-Key makes a browser's retries exactly-once (CONTRACT §12).
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Content-Length', 'Idempotency-Key'],
    exposedHeaders: ['Retry-After', 'WWW-Authenticate', 'Idempotent-Replayed', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
    credentials: false,
    maxAge: 600,
    strictPreflight: true
  })
}

export default fp(corsPlugin, { name: 'cors' })
