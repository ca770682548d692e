import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { EvolutionSchema, TOPIC_NAME_PATTERN, TopicRecordSchema, TopicSchemaSchema } from '../../../src/schema/topic-schema.ts'
import { validateTopicSchema } from '../../../src/schema/types.ts'
import { InvalidPartitionError, InvalidTopicNameError } from '../../../src/errors.ts'
import { PartitionBySchema, TimePartitionSchema, validatePartitionSpec } from '../../../src/lake/partition-spec.ts'
import { guardedCatalog } from '../../../src/pipeline/guard.ts'
import { errorResponses } from '../../../src/http/error-schema.ts'
import { TopicListSchema } from '../../../src/http/topic-schemas.ts'

const NAME = new RegExp(TOPIC_NAME_PATTERN)

const CreateTopicSchema = Type.Object({
  // The pattern is checked by the handler so a bad name gets QUIVER_INVALID_TOPIC_NAME.
  name: Type.String({ description: `topic name, ${TOPIC_NAME_PATTERN}` }),
  schema: TopicSchemaSchema,
  partitionBy: Type.Optional(PartitionBySchema),
  timePartition: Type.Optional(TimePartitionSchema),
  evolution: Type.Optional(EvolutionSchema)
}, { additionalProperties: false })

const topicsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const catalog = guardedCatalog(fastify.catalog)
  fastify.post('', {
    config: { role: 'admin' },
    // A malformed partition spec answers QUIVER_INVALID_PARTITION, not the generic code: the client learns what to fix.
    attachValidation: true,
    schema: {
      tags: ['topics'],
      summary: 'Create a topic with its schema and partition layout',
      description: 'Objects are keyed `{topic}/{col}={value}/…/year=YYYY/month=MM/day=DD[/hour=HH]/{id}.parquet`: one `col=value` level per `partitionBy` field (Hive-escaped, null and "" as `__HIVE_DEFAULT_PARTITION__`), then the UTC bucket of `timePartition.field` (default: arrival time, hourly). A malformed spec answers 400 QUIVER_INVALID_PARTITION. `evolution` (`additive` or `none`; absent: `AUTO_EVOLVE_TOPICS` decides) says whether a writer\'s stream that adds nullable fields evolves the schema.',
      security: [{ bearerAuth: [] }],
      body: CreateTopicSchema,
      response: { 201: TopicRecordSchema, ...errorResponses(400, 401, 403, 409, 503) }
    }
  }, async (request, reply) => {
    if (request.validationError) {
      const failed: Array<{ instancePath: string }> = request.validationError.validation ?? []
      const partitionOnly = failed.length > 0 && failed.every((v) => /^\/(partitionBy|timePartition)(\/|$)/.test(v.instancePath))
      if (!partitionOnly) throw request.validationError
      throw new InvalidPartitionError(request.validationError.message.replace(/^body\//, ''))
    }
    const { name, schema, partitionBy, timePartition, evolution } = request.body
    if (!NAME.test(name)) throw new InvalidTopicNameError(name)
    validateTopicSchema(schema)
    const fields = schema.fields.map((f) => ({ name: f.name, type: f.type, nullable: f.nullable ?? true }))
    const spec = validatePartitionSpec({ fields }, partitionBy, timePartition)
    const given = partitionBy !== undefined || timePartition !== undefined
    const record = await catalog.create({ name, schema: { fields }, createdAt: new Date().toISOString(), ...(given ? spec : {}), ...(evolution === undefined ? {} : { evolution }) })
    request.log.info({ topic: name, by: request.principal?.sub }, 'topic created')
    return reply.code(201).send(record)
  })

  fastify.get('', {
    config: { role: 'read' },
    schema: {
      tags: ['topics'],
      summary: 'List topics',
      security: [{ bearerAuth: [] }],
      response: { 200: TopicListSchema, ...errorResponses(401, 403, 503) }
    }
  }, async () => {
    const topics = await catalog.list()
    return { topics: topics.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0) }
  })
}

export default topicsRoutes
