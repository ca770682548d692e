import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { NotAcceptableError, TopicNotFoundError, ValidationError } from '../../../../src/errors.ts'
import { arrowStreamOut } from '../../../../src/read/ipc-out.ts'
import { poolDecoder } from '../../../../src/read/pool-decoder.ts'
import { errorResponses } from '../../../../src/http/error-schema.ts'
import { TopicParamsSchema } from '../../../../src/http/params.ts'
import { ARROW_STREAM, NDJSON, binary } from '../../../../src/http/media-types.ts'
import { microsOf, readCommitted, storedSchemaOf } from '../../../../src/read/reader.ts'
import { conformTo } from '../../../../src/read/conform.ts'
import { ndjsonChunks, negotiateRowType } from '../../../../src/read/ndjson-out.ts'
import { Slicer } from '../../../../src/arrow/json-slices.ts'
import { guarded, guardedCatalog } from '../../../../src/pipeline/guard.ts'
import { partitionFilter } from '../../../../src/lake/partition-filter.ts'
import { specOf } from '../../../../src/lake/partition-spec.ts'
import { INGESTED_AT } from '../../../../src/schema/types.ts'

/** The parameters of this route that are not partition filters. */
const OWN_PARAMS: ReadonlySet<string> = new Set(['from', 'to', 'limit'])

const ReadQuerySchema = Type.Object({
  from: Type.Optional(Type.String({ format: 'date-time', description: 'inclusive lower bound on __ingested_at' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'exclusive upper bound on __ingested_at' })),
  limit: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 })
}, {
  additionalProperties: Type.String({
    description: 'Partition filters, named after the topic\'s partition columns: its `partitionBy` fields, and `year`, `month`, `day` (`hour` when hourly) of its time partition. ' +
      '`?tenant=acme&day=02` reads only the objects of those partitions (the others are never opened); `?tenant=` selects the null partition; a name the topic does not partition by is 400. ' +
      'Each filter is a query parameter of its own (`style: form`, exploded), never `partitions=`; `partitions[tenant]=acme` (deepObject) is read too, and is how a partition named `from`, `to` or `limit` is filtered.'
  })
})

/** Bytes of answer produced ahead of what the socket took. */
const OUT_BUFFER = 1024 * 1024

const recordsReadRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  const { pipeline } = fastify
  const decode = poolDecoder(fastify.encoder)
  const catalog = guardedCatalog(fastify.catalog)

  fastify.get('/records', {
    config: { role: 'read' },
    schema: {
      tags: ['read'],
      summary: 'Rows read back from the committed Parquet objects',
      description: 'Oldest first, filtered on `__ingested_at` (`from` inclusive, `to` exclusive), at most `limit` rows. Any other parameter filters by partition (`?tenant=acme&day=02`): objects of other partitions are not opened. Answered as an Arrow IPC stream (no Accept, `*/*` or its type), or NDJSON with `Accept: application/x-ndjson`; any other Accept gets 406 (timestamps as ISO strings with microseconds; int64 as JSON numbers when within ±2^53−1, as strings beyond).',
      security: [{ bearerAuth: [] }],
      params: TopicParamsSchema,
      querystring: ReadQuerySchema,
      response: {
        200: { description: 'rows', content: { [ARROW_STREAM]: binary(ARROW_STREAM, 'Arrow IPC stream'), [NDJSON]: binary(NDJSON, 'NDJSON rows') } },
        ...errorResponses(400, 401, 403, 404, 406, 503)
      }
    }
  }, async (request, reply) => {
    const { topic } = request.params
    const q = request.query as { from?: string, to?: string, limit: number } & Record<string, string>
    const from = q.from === undefined ? undefined : Date.parse(q.from)
    const to = q.to === undefined ? undefined : Date.parse(q.to)
    if (Number.isNaN(from) || Number.isNaN(to)) throw new ValidationError('from/to must be ISO 8601 date-times')
    const answer = negotiateRowType(request.headers.accept, [ARROW_STREAM, NDJSON])
    if (answer === null) throw new NotAcceptableError(request.headers.accept ?? '')
    const record = await catalog.get(topic)
    if (!record) throw new TopicNotFoundError(topic)
    const only = partitionFilter(record, q, OWN_PARAMS)
    const all = await guarded(pipeline.files(topic, record.createdAt))
    const files = only ? all.filter((f) => only(f.key)) : all
    // Key times are arrival times only when the topic partitions by arrival time (the default).
    const keyTimes = specOf(record).timePartition.field === INGESTED_AT
    // One per request: every step of the answer (scan, convert, serialise) is cut so that the
    // event loop turns at least every SLICE_MS, whatever the objects' size (CONTRACT §13).
    const slicer = new Slicer()
    const rows = readCommitted(pipeline.storage, files, {
      from,
      to,
      fromUs: from === undefined ? undefined : microsOf(q.from!, from),
      toUs: to === undefined ? undefined : microsOf(q.to!, to),
      limit: q.limit,
      keyTimes
    }, {
      decode,
      slicer,
      onCorrupt: (key, reason) => pipeline.markCorrupt(topic, key, reason)
    })
    // The first batch is read before answering, so a storage failure is still a clean 503; later
    // ones end the stream early (the client sees it cut short, never a wrong "complete" answer).
    const first = await guarded(rows.next())
    // Rows of every schema version, in the current one (src/read/conform.ts).
    const stored = storedSchemaOf(record)
    const batches = conformTo((async function * () {
      if (first.done) return
      yield first.value
      yield * rows
    })(), stored, slicer)
    // Byte mode: the stream holds at most ~OUT_BUFFER bytes ahead of a slow client (16 objects,
    // object mode's mark, were up to 16 slices of 65,536 rows: a whole row group).
    const out = { objectMode: false, highWaterMark: OUT_BUFFER }
    if (answer === NDJSON) {
      reply.type(NDJSON)
      return reply.send(Readable.from(ndjsonChunks(batches, slicer), out))
    }
    reply.type(ARROW_STREAM)
    return reply.send(Readable.from(arrowStreamOut(batches, stored, slicer), out))
  })
}

export default recordsReadRoute
