import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import type { RecordBatch } from 'apache-arrow'
import { OverloadedError, UnsupportedMediaTypeError, ValidationError } from '../../../../src/errors.ts'
import { toIpcStream } from '../../../../src/arrow/encode.ts'
import { ErrorSchema, TopicParamsSchema } from '../../../../src/pipeline/http-schemas.ts'
import { ARROW_FILE, ARROW_STREAM, INGEST_MEDIA_TYPES, JSON_ARRAY, NDJSON, mediaTypeOf, readIngestBody, type Body } from '../../../../src/pipeline/ingest-body.ts'
import { readCommitted, storedSchemaOf } from '../../../../src/pipeline/reader.ts'
import { ndjsonLines } from '../../../../src/pipeline/ndjson-out.ts'
import { guarded, guardedCatalog } from '../../../../src/pipeline/guard.ts'
import { TopicNotFoundError } from '../../../../src/errors.ts'
import { largeRequestThreshold, readOrStage } from '../../../../src/pipeline/large-request.ts'
import { BufferPool, type BufferLease } from '../../../../src/arrow/buffer-pool.ts'
import { lingerBeforeClose } from '../../../../src/linger.ts'

// The body is a stream the handler reads itself, so Fastify validates nothing of it: the typed
// description below is for the OpenAPI document only (plugins/external/swagger.ts puts it there).
const binary = (mediaType: string, description: string) => ({ schema: { type: 'string', description, contentMediaType: mediaType } })
const JsonRowsSchema = Type.Array(Type.Record(Type.String(), Type.Unknown()), { description: "a JSON array of objects, one per row, converted with the topic's schema" })

const IngestResultSchema = Type.Object({
  topic: Type.String(),
  rows: Type.Integer(),
  batches: Type.Integer(),
  bytes: Type.Integer({ description: 'request body bytes read' }),
  ack: Type.Union([Type.Literal('durable'), Type.Literal('accepted')])
})

const ReadQuerySchema = Type.Object({
  from: Type.Optional(Type.String({ format: 'date-time', description: 'inclusive lower bound on __ingested_at' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'exclusive upper bound on __ingested_at' })),
  limit: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 })
})

const INGEST_DESCRIPTION = `Body: an Arrow IPC stream (read incrementally), an Arrow IPC file, NDJSON or a JSON array of
objects (converted with the topic's schema). The stream's schema must equal the topic's (order may differ). All-or-nothing:
a request that fails commits none of its rows. \`ack=durable\` (default) answers 200 once every row is in a committed Parquet
object; \`ack=accepted\` answers 202 once validated and buffered. 503 with Retry-After when the gateway's buffers are full or
storage is failing. An Arrow stream too large to buffer (over min(FLUSH_MAX_BYTES, MAX_BUFFERED_BYTES/4)) is written as
its own Parquet object while it is read, committed only once all of it was valid; with \`ack=accepted\` it is also
answered (202) only after that commit.`

export default async function (fastify: FastifyInstance): Promise<void> {
  const { config, pipeline } = fastify
  const catalog = guardedCatalog(fastify.catalog)
  const largeBytes = largeRequestThreshold(config)
  // Buffers for Arrow message bodies, reused across requests (see src/arrow/buffer-pool.ts).
  const bodies = new BufferPool(Math.min(config.MAX_BUFFERED_BYTES, 512 * 1024 * 1024))

  // Bodies are read by the handler as they arrive (and counted there: bodyLimit does not apply).
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser(INGEST_MEDIA_TYPES, (_req, payload, done) => done(null, payload))
  fastify.addContentTypeParser('*', (req, _payload, done) => done(new UnsupportedMediaTypeError(mediaTypeOf(req.headers['content-type']) || '(none)')))

  fastify.post('/records', {
    onRequest: fastify.requireRole('write'),
    schema: {
      tags: ['ingest'],
      summary: 'Ingest rows (Arrow IPC stream/file, NDJSON, JSON array)',
      description: INGEST_DESCRIPTION,
      security: [{ bearerAuth: [] }],
      params: TopicParamsSchema,
      querystring: Type.Object({ ack: Type.Union([Type.Literal('durable'), Type.Literal('accepted')], { default: 'durable' }) }),
      'x-openapi-body': {
        content: {
          [ARROW_STREAM]: binary(ARROW_STREAM, 'Arrow IPC stream'),
          [ARROW_FILE]: binary(ARROW_FILE, 'Arrow IPC file'),
          [NDJSON]: binary(NDJSON, 'one JSON object per line'),
          [JSON_ARRAY]: { schema: JsonRowsSchema }
        }
      },
      response: {
        200: IngestResultSchema,
        202: IngestResultSchema,
        ...Object.fromEntries([400, 401, 403, 404, 413, 415, 422, 503].map((s) => [s, ErrorSchema]))
      }
    }
  }, async (request, reply) => {
    const { topic } = request.params as { topic: string }
    const { ack } = request.query as { ack: 'durable' | 'accepted' }
    const mediaType = mediaTypeOf(request.headers['content-type'])
    const body = request.body as Body | undefined
    if (!body || typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] !== 'function') {
      throw new UnsupportedMediaTypeError(mediaType || '(none)')
    }
    let read
    let lease: BufferLease | undefined
    try {
      if (!pipeline.hasCapacity()) throw new OverloadedError()
      const length = Number(request.headers['content-length'] ?? NaN)
      if (mediaType === ARROW_STREAM && !(length <= largeBytes)) {
        const out = await readOrStage({
          body,
          topic,
          catalog,
          autoCreate: config.AUTO_CREATE_TOPICS,
          maxBytes: config.MAX_REQUEST_BYTES,
          thresholdBytes: largeBytes,
          large: length > largeBytes,
          length: Number.isFinite(length) ? length : undefined,
          storage: pipeline.storage,
          compression: config.PARQUET_COMPRESSION,
          pool: fastify.encoder,
          committed: (name, file, o) => pipeline.recordCommitted(name, file, o),
          log: request.log
        })
        if (out.staged) {
          request.log.info({ topic, rows: out.rows, bytes: out.bytes, ack }, 'ingested a staged request')
          return reply.code(ack === 'durable' ? 200 : 202).send({ topic, rows: out.rows, batches: out.batches, bytes: out.bytes, ack })
        }
        read = out.read
      } else {
        if (mediaType === ARROW_STREAM) lease = bodies.lease()
        read = await readIngestBody({ mediaType, body, topic, catalog, autoCreate: config.AUTO_CREATE_TOPICS, maxBytes: config.MAX_REQUEST_BYTES, alloc: lease?.alloc })
      }
    } catch (err) {
      lease?.release()
      // The rest of the body is not worth reading (it may be huge): drop the connection after
      // answering, once the client had a chance to read the answer (src/linger.ts).
      if (!request.raw.readableEnded) {
        reply.header('connection', 'close')
        lingerBeforeClose(request.raw.socket)
      }
      throw err
    }
    const result = await pipeline.ingest(read.topic, read.batches, { ack, bytes: read.bytes, release: lease?.release })
    request.log.debug({ topic, rows: result.rows, bytes: read.bytes, ack }, 'ingested')
    return reply.code(ack === 'durable' ? 200 : 202).send({ topic, rows: result.rows, batches: result.batches, bytes: read.bytes, ack })
  })

  fastify.get('/records', {
    onRequest: fastify.requireRole('read'),
    schema: {
      tags: ['read'],
      summary: 'Rows read back from the committed Parquet objects',
      description: 'Oldest first, filtered on `__ingested_at` (`from` inclusive, `to` exclusive), at most `limit` rows. Answered as an Arrow IPC stream, or NDJSON with `Accept: application/x-ndjson` (timestamps as ISO strings with microseconds; int64 as JSON numbers when within ±2^53−1, as strings beyond).',
      security: [{ bearerAuth: [] }],
      params: TopicParamsSchema,
      querystring: ReadQuerySchema,
      response: {
        200: { description: 'rows', content: { [ARROW_STREAM]: binary(ARROW_STREAM, 'Arrow IPC stream'), [NDJSON]: binary(NDJSON, 'NDJSON rows') } },
        ...Object.fromEntries([400, 401, 403, 404, 503].map((s) => [s, ErrorSchema]))
      }
    }
  }, async (request, reply) => {
    const { topic } = request.params as { topic: string }
    const q = request.query as { from?: string, to?: string, limit: number }
    const from = q.from === undefined ? undefined : Date.parse(q.from)
    const to = q.to === undefined ? undefined : Date.parse(q.to)
    if (Number.isNaN(from) || Number.isNaN(to)) throw new ValidationError('from/to must be ISO 8601 date-times')
    const record = await catalog.get(topic)
    if (!record) throw new TopicNotFoundError(topic)
    const files = await guarded(pipeline.files(topic))
    const rows = readCommitted(pipeline.storage, files, { from, to, limit: q.limit })
    if (mediaTypeOf(request.headers.accept) === NDJSON) {
      reply.type(NDJSON)
      return reply.send(Readable.from((async function * () {
        for await (const b of rows) yield * ndjsonLines(b)
      })()))
    }
    // Bounded by `limit`; one IPC stream in one buffer keeps the schema handling simple.
    const batches: RecordBatch[] = []
    for await (const b of rows) batches.push(b)
    reply.type(ARROW_STREAM)
    return reply.send(Buffer.from(toIpcStream(batches, batches[0]?.schema ?? storedSchemaOf(record))))
  })
}
