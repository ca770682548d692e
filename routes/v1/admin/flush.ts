import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { ErrorSchema } from '../../../src/pipeline/http-schemas.ts'

export default async function (fastify: FastifyInstance): Promise<void> {
  fastify.post('/flush', {
    onRequest: fastify.requireRole('admin'),
    schema: {
      tags: ['admin'],
      summary: 'Flush every topic buffer; answers once all of it is durable',
      security: [{ bearerAuth: [] }],
      response: {
        200: Type.Object({ flushed: Type.Integer({ description: 'rows that were buffered and are now committed' }) }),
        401: ErrorSchema,
        403: ErrorSchema,
        503: ErrorSchema
      }
    }
  }, async () => {
    const before = Object.values(fastify.pipeline.stats().topics).reduce((n, t) => n + t.bufferedRows, 0)
    await fastify.pipeline.flushAll()
    return { flushed: before }
  })
}
