import type { FastifyInstance } from 'fastify'
import { TopicNotFoundError } from '../../../../src/errors.ts'
import { guarded, guardedCatalog } from '../../../../src/pipeline/guard.ts'
import { ErrorSchema, TopicDetailSchema, TopicParamsSchema } from '../../../../src/pipeline/http-schemas.ts'

export default async function (fastify: FastifyInstance): Promise<void> {
  const catalog = guardedCatalog(fastify.catalog)
  fastify.get('', {
    onRequest: fastify.requireRole('read'),
    schema: {
      tags: ['topics'],
      summary: 'A topic, its schema and its committed-data stats',
      security: [{ bearerAuth: [] }],
      params: TopicParamsSchema,
      response: { 200: TopicDetailSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema }
    }
  }, async (request) => {
    const { topic } = request.params as { topic: string }
    const record = await catalog.get(topic)
    if (!record) throw new TopicNotFoundError(topic)
    const s = await guarded(fastify.pipeline.topicStats(topic))
    return { ...record, stats: { rows: s.committedRows, bytes: s.committedBytes, files: s.files, lastFlushAt: s.lastFlushAt } }
  })

  fastify.delete('', {
    onRequest: fastify.requireRole('admin'),
    schema: {
      tags: ['topics'],
      summary: 'Remove a topic from the catalog (its Parquet objects stay)',
      security: [{ bearerAuth: [] }],
      params: TopicParamsSchema,
      response: { 204: { type: 'null', description: 'deleted' }, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema }
    }
  }, async (request, reply) => {
    const { topic } = request.params as { topic: string }
    if (!(await catalog.delete(topic))) throw new TopicNotFoundError(topic)
    request.log.info({ topic, by: request.principal?.sub }, 'topic deleted')
    return reply.code(204).send()
  })
}
