import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { UnsupportedEncodingError, UnsupportedMediaTypeError } from '../../../../src/errors.ts'
import { ErrorSchema, errorResponses } from '../../../../src/http/error-schema.ts'
import { TopicParamsSchema } from '../../../../src/http/params.ts'
import { ARROW_FILE, ARROW_STREAM, INGEST_MEDIA_TYPES, JSON_ARRAY, NDJSON, binary, mediaTypeOf } from '../../../../src/http/media-types.ts'
import type { Body } from '../../../../src/ingest/ingest-body.ts'
import { parseIdempotencyKey } from '../../../../src/lake/idempotency-key.ts'
import { lingerBeforeClose } from '../../../../src/http/linger.ts'
import { cutOnShutdown } from '../../../../src/lifecycle/body-cut.ts'

// The body is a stream the handler reads itself, so Fastify validates nothing of it: the typed
// description below is for the OpenAPI document only (plugins/external/swagger.ts puts it there).
const JsonRowsSchema = Type.Array(Type.Record(Type.String(), Type.Unknown()), { description: "a JSON array of objects, one per row, converted with the topic's schema" })

const IngestResultSchema = Type.Object({
  topic: Type.String(),
  rows: Type.Integer(),
  batches: Type.Integer(),
  bytes: Type.Integer({ description: 'request body bytes read' }),
  ack: Type.Union([Type.Literal('durable'), Type.Literal('accepted')])
}, {
  // @fastify/swagger moves `headers` of a response schema to the response's headers.
  headers: {
    'Idempotent-Replayed': { type: 'string', enum: ['true'], description: 'Present (`true`) when this is the stored answer to an earlier request with the same Idempotency-Key: nothing was stored again. The first answer has no such header.' }
  }
})

// Exactly-once retries (README "Exactly-once retries"), in the OpenAPI document.
const KeyHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    description: 'Makes retries exactly-once: 1 to 255 visible ASCII characters (0x21-0x7E), scoped by topic and principal, kept ' +
      'IDEMPOTENCY_TTL_S (default 86400 s). A repeat of a committed request (same body bytes, content type and ack) answers the ' +
      'first status and body with Idempotent-Replayed: true and stores nothing; malformed: 400 QUIVER_INVALID_IDEMPOTENCY_KEY. ' +
      'Checked by the handler (not by the schema) so the error carries that code.'
  }))
})
const KEY_ERRORS = {
  400: { ...ErrorSchema, description: 'QUIVER_INVALID_ARROW (garbage, truncated stream, bad JSON), QUIVER_INVALID_IDEMPOTENCY_KEY (malformed Idempotency-Key), or another QUIVER_* code naming what is wrong' },
  409: {
    ...ErrorSchema,
    description: 'QUIVER_IDEMPOTENCY_IN_FLIGHT: a request with this Idempotency-Key is still being processed (including a 202 not yet committed); retry after Retry-After',
    headers: { 'Retry-After': { type: 'integer', description: 'seconds to wait before retrying' } }
  },
  422: { ...ErrorSchema, description: 'QUIVER_IDEMPOTENCY_KEY_REUSED: the Idempotency-Key was used for another request (body, content type or ack differ); QUIVER_SCHEMA_MISMATCH and other 422 codes name the fields' }
}

const INGEST_DESCRIPTION = `Body: an Arrow IPC stream (read incrementally), an Arrow IPC file, NDJSON or a JSON array of
objects (converted with the topic's schema). The stream's schema must equal the topic's (order may differ). All-or-nothing:
a request that fails commits none of its rows. \`ack=durable\` (default) answers 200 once every row is in a committed Parquet
object; \`ack=accepted\` answers 202 once validated and buffered. 503 with Retry-After when the gateway's buffers are full or
storage is failing. 413 over MAX_REQUEST_BYTES, or for one NDJSON line or JSON array element over MAX_JSON_ROW_BYTES
(16 MiB). An Arrow stream too large to buffer (over min(FLUSH_MAX_BYTES, MAX_BUFFERED_BYTES/4)) is written as
its own Parquet object while it is read, committed only once all of it was valid; with \`ack=accepted\` it is also
answered (202) only after that commit.`

const recordsRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  // Bodies are read by the handler as they arrive (and counted there: bodyLimit does not apply).
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser(INGEST_MEDIA_TYPES, (_req, payload, done) => done(null, payload))
  fastify.addContentTypeParser('*', (req, _payload, done) => done(new UnsupportedMediaTypeError(mediaTypeOf(req.headers['content-type']) || '(none)')))

  fastify.post('/records', {
    config: { role: 'write' },
    schema: {
      tags: ['ingest'],
      summary: 'Ingest rows (Arrow IPC stream/file, NDJSON, JSON array)',
      description: INGEST_DESCRIPTION,
      security: [{ bearerAuth: [] }],
      params: TopicParamsSchema,
      querystring: Type.Object({ ack: Type.Union([Type.Literal('durable'), Type.Literal('accepted')], { default: 'durable' }) }),
      headers: KeyHeadersSchema,
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
        ...errorResponses(401, 403, 404, 413, 415, 503),
        ...KEY_ERRORS
      }
    }
  }, async (request, reply) => {
    const { topic } = request.params
    const { ack } = request.query
    const declared = request.headers['content-length']
    const mediaType = mediaTypeOf(request.headers['content-type'])
    if (typeof (request.body as Body | undefined)?.[Symbol.asyncIterator as keyof Body] !== 'function') throw new UnsupportedMediaTypeError(mediaType || '(none)')
    // A gzip body was read as it came and refused as invalid JSON or Arrow (400): say what is wrong.
    const encoding = String(request.headers['content-encoding'] ?? '').trim().toLowerCase()
    if (encoding !== '' && encoding !== 'identity') {
      if (!request.raw.readableEnded) {
        reply.header('connection', 'close')
        lingerBeforeClose(request.raw)
      }
      throw new UnsupportedEncodingError(encoding)
    }
    try {
      const req = { topic, ack, mediaType, body: undestroyed(request.body as Body, request.raw, fastify.shutdownSignal), length: declared === undefined ? undefined : Number(declared), log: request.log }
      const key = parseIdempotencyKey(request.headers['idempotency-key'])
      if (key !== undefined && request.principal !== null) {
        const out = await fastify.ingest.ingestKeyed(req, request.principal, key)
        if (out.replayed) reply.header('idempotent-replayed', 'true')
        return await reply.code(out.status).send(out.body)
      }
      const out = await fastify.ingest.ingestBody(req)
      return await reply.code(ack === 'durable' ? 200 : 202).send(out)
    } catch (err) {
      // The rest of the body is not worth reading (it may be huge): drop the connection after
      // answering, once the client had a chance to read the answer (src/http/linger.ts).
      if (!request.raw.readableEnded) {
        reply.header('connection', 'close')
        lingerBeforeClose(request.raw)
      }
      throw err
    }
  })
}

/**
 * The body as a stream that stopping early does not destroy. A readable's own async iterator
 * destroys it when the loop leaves early (a refusal mid-body: a JSON row over its limit, a bad
 * batch), and destroying a request destroys its socket: the client, still sending, met a reset
 * (EPIPE) instead of the answer, since no lingering close (src/http/linger.ts) could follow.
 * A body still arriving at the shutdown's cut stops with ShuttingDownError (src/lifecycle/body-cut.ts).
 */
function undestroyed (body: Body, raw: IncomingMessage, shutdown: AbortSignal): Body {
  return body instanceof Readable ? cutOnShutdown(body.iterator({ destroyOnReturn: false }), shutdown, () => raw.complete) : body
}

export default recordsRoute
