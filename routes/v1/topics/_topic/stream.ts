import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Counter } from 'prom-client'
import { checkTopicBeforeUpgrade, topicUpgradeSchema } from '../../../../src/http/topic-check.ts'
import { IngestSession } from '../../../../src/ws/ingest-session.ts'
import { onServerClose } from '../../../../src/ws/shutdown.ts'
import { revokedClose } from '../../../../src/ws/frames.ts'
// How to connect (subprotocol, the token's three places, refusals before the upgrade) is added for
// every WebSocket route by src/openapi.ts.
export const STREAM_DESCRIPTION = `WebSocket ingest. Each binary message is one complete Arrow IPC stream and gets sequence number 1, 2, 3…; the server
answers, in order, \`{"type":"ack","seq":n,"rows":r}\` once the rows are in committed Parquet, or
\`{"type":"error","seq":n,"code":"QUIVER_…","message":"…"}\` (the connection stays open). Up to WS_MAX_INFLIGHT messages may
await their ack; beyond that, or while the gateway's buffers are full, the server stops reading the socket. Text frames take no
sequence number: each gets an error frame with seq 0 (QUIVER_TEXT_FRAME), in its turn. A message over WS_MAX_MESSAGE_BYTES
is not accepted: the server stops reading, answers the messages before it, then closes with 1009; when the token expires
or is revoked (DELETE /v1/admin/tokens/{jti}: at once on the instance that revoked it, within LOCAL_TOKEN_REVOCATION_POLL_S
on the others) the server acks what it accepted and closes with 1008 ('token expired', 'token revoked'): a message arriving
after that is answered QUIVER_UNAUTHORIZED, never stored; when the revocation list cannot be read (a minted token can no
longer be checked) it does the same and closes with 1013 ('token revocation list unavailable'; later messages get
QUIVER_AUTH_UNAVAILABLE); on shutdown it does the same and closes with 1001.
Exactly-once: a text frame \`{"type":"key","key":"<Idempotency-Key>"}\` announces the key of the next binary message (no seq,
no answer of its own); that message is the same request as a POST of its bytes with \`ack=durable\` and the same key. A resend
of a stored message is answered \`{"type":"ack","seq":n,"rows":r,"replayed":true}\`; a duplicate in flight gets the error code
QUIVER_IDEMPOTENCY_IN_FLIGHT, the key with other bytes QUIVER_IDEMPOTENCY_KEY_REUSED, a malformed key
QUIVER_INVALID_IDEMPOTENCY_KEY (README "Exactly-once over WebSocket").`

const streamRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, metrics } = fastify
  // Beside the shared metrics: how often WebSocket producers were made to wait (backpressure).
  const pauses = new Counter({ name: 'quiver_websocket_pauses_total', help: 'Times an ingest WebSocket stopped being read (in-flight limit or full buffers)', registers: [metrics.registry] })

  fastify.get('/stream', {
    websocket: true,
    config: { role: 'write' },
    preHandler: async (request) => {
      await fastify.wsAdmit(request)
      // Through the ingest service's lookup: a storage fault is the same 503 as during the ingest itself.
      await checkTopicBeforeUpgrade(fastify.ingest.catalog, request.params.topic, config.AUTO_CREATE_TOPICS)
    },
    schema: {
      tags: ['ingest'],
      summary: 'WebSocket ingest of Arrow IPC streams with ordered durable acks (subprotocol quiver.v1)',
      description: STREAM_DESCRIPTION,
      ...topicUpgradeSchema
    }
  }, (socket, request) => {
    if (!fastify.wsHold(socket, request, 'stream')) return
    const { topic } = request.params
    const exp = request.principal?.exp

    const session = new IngestSession(socket, {
      ...fastify.ingest.session(topic, request.principal),
      maxInflight: config.WS_MAX_INFLIGHT,
      messageTimeoutMs: config.REQUEST_TIMEOUT_MS,
      expiresAt: exp === undefined ? undefined : exp * 1000,
      log: request.log,
      onPause: () => pauses.inc()
    })
    // Revoked (or no longer checkable): like expiry, what was accepted is acked, nothing more is read.
    const jti = request.principal?.jti
    if (jti !== undefined && fastify.tokenRevocations) {
      const unsubscribe = fastify.tokenRevocations.onRevoked(jti, (why) => {
        const { code, reason } = revokedClose(why)
        session.finish(code, reason).catch(() => {})
      })
      socket.once('close', unsubscribe)
    }
    onServerClose(socket, async (code, reason) => {
      const drained = session.finish(code, reason)
      // The websocket plugin's preClose (this) runs before the pipeline's, which starts the shutdown
      // flush: start it here, or the acks would wait for the flush window.
      fastify.pipeline.drain().catch((err: Error) => request.log.warn({ err }, 'flush before closing websockets failed'))
      await drained
    })
  })
}

export default streamRoute
