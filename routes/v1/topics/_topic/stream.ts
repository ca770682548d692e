import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { Counter } from 'prom-client'
import { ErrorSchema } from '../../../../src/auth/schemas.ts'
import { readArrowMessage } from '../../../../src/arrow/decode.ts'
import { resolveTopic, validateStream } from '../../../../src/ingest/validate-stream.ts'
import { IngestSession } from '../../../../src/ws/ingest-session.ts'
import { onServerClose } from '../../../../src/ws/shutdown.ts'
import { InvalidTopicNameError, TopicNotFoundError } from '../../../../src/errors.ts'
import { TOPIC_NAME_PATTERN } from '../../../../src/schema/topic-schema.ts'

const TOPIC_NAME = new RegExp(TOPIC_NAME_PATTERN)

export const STREAM_DESCRIPTION = `WebSocket ingest (CONTRACT §7). Offer the subprotocol \`quiver.v1\`; the token goes in the
Authorization header, as a second subprotocol \`bearer.<jwt>\` (browsers), or as \`?access_token=\`. 401/403 are answered
before the upgrade. Each binary message is one complete Arrow IPC stream and gets sequence number 1, 2, 3…; the server
answers, in order, \`{"type":"ack","seq":n,"rows":r}\` once the rows are in committed Parquet, or
\`{"type":"error","seq":n,"code":"QUIVER_…","message":"…"}\` (the connection stays open). Up to WS_MAX_INFLIGHT messages may
await their ack; beyond that, or while the gateway's buffers are full, the server stops reading the socket. Text frames get
an error frame (QUIVER_TEXT_FRAME); messages over WS_MAX_MESSAGE_BYTES close with 1009; when the token expires the server
acks what it accepted and closes with 1008; on shutdown it does the same and closes with 1001.`

export const TopicParamsSchema = Type.Object({ topic: Type.String({ description: 'topic name' }) })

/** Unknown topics fail before the upgrade when they cannot be auto-created, so clients see a plain 404. */
export async function checkTopicBeforeUpgrade (fastify: FastifyInstance, request: FastifyRequest, autoCreate: boolean): Promise<void> {
  const { topic } = request.params as { topic: string }
  if (!TOPIC_NAME.test(topic)) throw new InvalidTopicNameError(topic)
  if (!autoCreate && !(await fastify.catalog.get(topic))) throw new TopicNotFoundError(topic)
}

export default async function (fastify: FastifyInstance): Promise<void> {
  const { config, metrics } = fastify
  // Beside the shared metrics: how often WebSocket producers were made to wait (backpressure).
  const pauses = new Counter({ name: 'quiver_websocket_pauses_total', help: 'Times an ingest WebSocket stopped being read (in-flight limit or full buffers)', registers: [metrics.registry] })

  fastify.get('/stream', {
    websocket: true,
    onRequest: fastify.requireRole('write'),
    preHandler: async (request) => checkTopicBeforeUpgrade(fastify, request, config.AUTO_CREATE_TOPICS),
    schema: {
      tags: ['ingest'],
      summary: 'WebSocket ingest of Arrow IPC streams with ordered durable acks (subprotocol quiver.v1)',
      description: STREAM_DESCRIPTION,
      security: [{ bearerAuth: [] }],
      params: TopicParamsSchema,
      response: { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema }
    }
  }, (socket, request) => {
    const { topic } = request.params as { topic: string }
    const exp = request.principal?.exp
    metrics.wsConnections.inc({ kind: 'stream' })
    socket.once('close', () => metrics.wsConnections.dec({ kind: 'stream' }))

    const session = new IngestSession(socket, {
      pipeline: fastify.pipeline,
      maxInflight: config.WS_MAX_INFLIGHT,
      expiresAt: exp === undefined ? undefined : exp * 1000,
      log: request.log,
      onPause: () => pauses.inc(),
      decode: (bytes) => readArrowMessage(bytes, { maxBytes: config.WS_MAX_MESSAGE_BYTES }),
      async accept (payload) {
        const record = await resolveTopic(fastify.catalog, topic, payload.schema, config.AUTO_CREATE_TOPICS)
        return { topic: record, batches: validateStream(record, payload), rows: payload.rows, bytes: payload.bytes }
      }
    })
    onServerClose(socket, async (code, reason) => {
      const drained = session.finish(code, reason)
      // The pipeline's own flush-on-close runs after this hook: flush now or the acks would wait for the timer.
      fastify.pipeline.flushAll().catch((err: Error) => request.log.warn({ err }, 'flush before closing websockets failed'))
      await drained
    })
  })
}
