import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ErrorSchema, errorResponses } from '../../../src/http/error-schema.ts'

const flushRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/flush', {
    config: { role: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Flush every topic buffer; answers once all of it is durable',
      security: [{ bearerAuth: [] }],
      response: {
        200: Type.Object({ flushed: Type.Integer({ description: 'rows that were buffered and are now committed' }) }),
        // It takes no body, but one sent as application/json is still parsed before the handler.
        400: { ...ErrorSchema, description: 'QUIVER_INVALID_JSON: a body was sent as application/json and is not valid JSON (the route needs none)' },
        ...errorResponses(401, 403, 503)
      }
    }
  }, async () => {
    const before = Object.values(fastify.pipeline.stats().topics).reduce((n, t) => n + t.bufferedRows, 0)
    await fastify.pipeline.flushAll()
    return { flushed: before }
  })
}

export default flushRoute
