import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../../../src/http/error-schema.ts'

const flushRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/flush', {
    config: { role: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Flush every topic buffer; answers once all of it is durable',
      security: [{ bearerAuth: [] }],
      response: {
        200: Type.Object({ flushed: Type.Integer({ description: 'rows that were buffered and are now committed' }) }),
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
