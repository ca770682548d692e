import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { TOPIC_NAME_PATTERN, TopicRecordSchema, TopicSchemaSchema, type TopicRecord } from '../../../src/schema/topic-schema.ts'
import { validateTopicSchema } from '../../../src/schema/types.ts'
import { InvalidTopicNameError } from '../../../src/errors.ts'
import { guardedCatalog } from '../../../src/pipeline/guard.ts'
import { ErrorSchema, TopicListSchema } from '../../../src/pipeline/http-schemas.ts'

const NAME = new RegExp(TOPIC_NAME_PATTERN)

const CreateTopicSchema = Type.Object({
  // The pattern is checked by the handler so a bad name gets QUIVER_INVALID_TOPIC_NAME.
  name: Type.String({ description: `topic name, ${TOPIC_NAME_PATTERN}` }),
  schema: TopicSchemaSchema
}, { additionalProperties: false })

export default async function (fastify: FastifyInstance): Promise<void> {
  const catalog = guardedCatalog(fastify.catalog)
  fastify.post('', {
    onRequest: fastify.requireRole('admin'),
    schema: {
      tags: ['topics'],
      summary: 'Create a topic with its schema',
      security: [{ bearerAuth: [] }],
      body: CreateTopicSchema,
      response: { 201: TopicRecordSchema, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 409: ErrorSchema, 503: ErrorSchema }
    }
  }, async (request, reply) => {
    const { name, schema } = request.body as { name: string, schema: TopicRecord['schema'] }
    if (!NAME.test(name)) throw new InvalidTopicNameError(name)
    validateTopicSchema(schema)
    const fields = schema.fields.map((f) => ({ name: f.name, type: f.type, nullable: f.nullable ?? true }))
    const record = await catalog.create({ name, schema: { fields }, createdAt: new Date().toISOString() })
    request.log.info({ topic: name, by: request.principal?.sub }, 'topic created')
    return reply.code(201).send(record)
  })

  fastify.get('', {
    onRequest: fastify.requireRole('read'),
    schema: {
      tags: ['topics'],
      summary: 'List topics',
      security: [{ bearerAuth: [] }],
      response: { 200: TopicListSchema, 401: ErrorSchema, 403: ErrorSchema, 503: ErrorSchema }
    }
  }, async () => {
    const topics = await catalog.list()
    return { topics: topics.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0) }
  })
}
