import type { FastifyInstance } from 'fastify'
import { ErrorSchema } from '../../../../src/auth/schemas.ts'
import { toIpcStream } from '../../../../src/arrow/encode.ts'
import { startTail } from '../../../../src/ws/tail-session.ts'
import { TopicParamsSchema, checkTopicBeforeUpgrade } from './stream.ts'

/** Queued bytes after which a tail reader counts as too slow and is closed with 1013. */
export const TAIL_MAX_BUFFERED_BYTES = 8 * 1024 * 1024

export default async function (fastify: FastifyInstance): Promise<void> {
  const { metrics } = fastify

  fastify.get('/tail', {
    websocket: true,
    onRequest: fastify.requireRole('read'),
    // With auto-create a tail may wait for a topic's first writer; otherwise unknown topics are 404.
    preHandler: async (request) => checkTopicBeforeUpgrade(fastify, request, fastify.config.AUTO_CREATE_TOPICS),
    schema: {
      tags: ['read'],
      summary: 'WebSocket live tail: every batch accepted from now on, one Arrow IPC stream per binary message',
      description: 'Offer the subprotocol `quiver.v1` (token as for /stream). Each binary message from the server is one ' +
        'complete Arrow IPC stream (schema + one record batch) in the topic\'s field order. A reader more than 8 MiB behind ' +
        'is closed with 1013 (try again later). Unknown topics are 404 before the upgrade unless AUTO_CREATE_TOPICS is on.',
      security: [{ bearerAuth: [] }],
      params: TopicParamsSchema,
      response: { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema }
    }
  }, (socket, request) => {
    const { topic } = request.params as { topic: string }
    metrics.wsConnections.inc({ kind: 'tail' })
    socket.once('close', () => metrics.wsConnections.dec({ kind: 'tail' }))
    startTail(socket, {
      subscribe: (listener) => fastify.pipeline.subscribe(topic, listener),
      encode: (batch, schema) => toIpcStream([batch], schema),
      maxBufferedBytes: TAIL_MAX_BUFFERED_BYTES
    })
  })
}
