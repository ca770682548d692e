import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkTopicBeforeUpgrade, topicUpgradeSchema } from '../../../../src/http/topic-check.ts'
import { toIpcStream, withIngestedAt } from '../../../../src/arrow/encode.ts'
import { startTail } from '../../../../src/ws/tail-session.ts'
import { revokedClose } from '../../../../src/ws/frames.ts'

/** Queued bytes after which a tail reader counts as too slow and is closed with 1013. */
export const TAIL_MAX_BUFFERED_BYTES = 8 * 1024 * 1024

const tailRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/tail', {
    websocket: true,
    config: { role: 'read' },
    // With auto-create a tail may wait for a topic's first writer; otherwise unknown topics are 404.
    preHandler: async (request) => {
      await fastify.wsAdmit(request)
      await checkTopicBeforeUpgrade(fastify.catalog, request.params.topic, fastify.config.AUTO_CREATE_TOPICS)
    },
    schema: {
      tags: ['read'],
      summary: 'WebSocket live tail: every batch accepted from now on, one Arrow IPC stream per binary message',
      // How to connect is added for every WebSocket route by src/openapi.ts.
      description: 'Each binary message from the server is one ' +
        'complete Arrow IPC stream (schema + one record batch) in the topic\'s field order, plus `__ingested_at`. A reader more than 8 MiB behind ' +
        'is closed with 1013 (try again later). Client frames over 4 KiB close with 1009; the socket closes with 1008 when the ' +
        'token expires or is revoked (at once on the instance that revoked it, within LOCAL_TOKEN_REVOCATION_POLL_S on the others), with 1013 when the revocation list cannot be read; beyond WS_MAX_CONNECTIONS_PER_SUB open sockets the upgrade is refused with 429. Unknown topics are 404 before the upgrade unless AUTO_CREATE_TOPICS is on.',
      ...topicUpgradeSchema
    }
  }, (socket, request) => {
    if (!fastify.wsHold(socket, request, 'tail')) return
    const { topic } = request.params
    startTail(socket, {
      subscribe: (listener) => fastify.pipeline.subscribe(topic, listener),
      // Rows as they will be stored: with the `__ingested_at` column.
      encode: (batch, _schema, at) => {
        const stored = withIngestedAt(batch, at)
        return toIpcStream([stored], stored.schema)
      },
      maxBufferedBytes: TAIL_MAX_BUFFERED_BYTES,
      expiresAt: request.principal?.exp === undefined ? undefined : request.principal.exp * 1000
    })
    // Revoked: no frame is sent once the socket is closing (startTail checks readyState), and the
    // close unsubscribes the tail.
    const jti = request.principal?.jti
    if (jti !== undefined && fastify.tokenRevocations && socket.readyState === 1) {
      const unsubscribe = fastify.tokenRevocations.onRevoked(jti, (why) => {
        const { code, reason } = revokedClose(why)
        socket.close(code, reason)
      })
      socket.once('close', unsubscribe)
    }
  })
}

export default tailRoute
