import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'

export default async function (fastify: FastifyInstance): Promise<void> {
  fastify.get('/healthz', {
    schema: {
      tags: ['ops'],
      summary: 'Liveness',
      response: { 200: Type.Object({ status: Type.Literal('ok') }) }
    }
  }, async () => ({ status: 'ok' as const }))
}
