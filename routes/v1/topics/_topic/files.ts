import type { FastifyInstance } from 'fastify'
import { guarded } from '../../../../src/pipeline/guard.ts'
import { ErrorSchema, FileListSchema, TopicParamsSchema } from '../../../../src/pipeline/http-schemas.ts'

export default async function (fastify: FastifyInstance): Promise<void> {
  fastify.get('/files', {
    onRequest: fastify.requireRole('read'),
    schema: {
      tags: ['read'],
      summary: 'Committed Parquet objects of a topic, oldest first',
      description: 'Listed from storage, so objects written by other gateway instances show too. `rows` comes from the Parquet footer (read once per object, then cached).',
      security: [{ bearerAuth: [] }],
      params: TopicParamsSchema,
      response: { 200: FileListSchema, 401: ErrorSchema, 403: ErrorSchema, 503: ErrorSchema }
    }
  }, async (request) => {
    const { topic } = request.params as { topic: string }
    return { files: await guarded(fastify.pipeline.files(topic)) }
  })
}
