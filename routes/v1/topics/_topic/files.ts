import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { TopicNotFoundError } from '../../../../src/errors.ts'
import { guarded, guardedCatalog } from '../../../../src/pipeline/guard.ts'
import { errorResponses } from '../../../../src/http/error-schema.ts'
import { TopicParamsSchema } from '../../../../src/http/params.ts'
import { FileListSchema } from '../../../../src/http/topic-schemas.ts'
import { Type } from '@sinclair/typebox'
import { partitionFilter } from '../../../../src/lake/partition-filter.ts'

const filesRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  const catalog = guardedCatalog(fastify.catalog)
  fastify.get('/files', {
    config: { role: 'read' },
    schema: {
      tags: ['read'],
      summary: 'Committed Parquet objects of a topic, oldest first',
      description: 'Listed from storage, so objects written by other gateway instances show too. `rows` comes from the Parquet footer (read once per object, then cached).',
      security: [{ bearerAuth: [] }],
      params: TopicParamsSchema,
      querystring: Type.Object({}, {
        additionalProperties: Type.String({
          description: 'Partition filters, named after the topic\'s partition columns: its `partitionBy` fields, and `year`, `month`, `day` (`hour` when hourly) of its time partition. ' +
            '`?tenant=acme&day=02` lists only the objects of those partitions, told by their keys; `?tenant=` selects the null partition; a name the topic does not partition by is 400. ' +
            'Each filter is a query parameter of its own (`style: form`, exploded), never `partitions=`; `partitions[tenant]=acme` (deepObject) is read too. This route has no other parameter: `from`, `to` and `limit` are partition filters here.'
        })
      }),
      response: { 200: FileListSchema, ...errorResponses(400, 401, 403, 404, 503) }
    }
  }, async (request) => {
    const { topic } = request.params
    // Unknown names end here, before the committed index keeps anything for them.
    const record = await catalog.get(topic)
    if (!record) throw new TopicNotFoundError(topic)
    const only = partitionFilter(record, request.query as Record<string, string>)
    const files = await guarded(fastify.pipeline.files(topic, record.createdAt))
    return { files: only ? files.filter((f) => only(f.key)) : files }
  })
}

export default filesRoute
