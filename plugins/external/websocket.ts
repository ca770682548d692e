import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import { closeClients } from '../../src/ws/shutdown.ts'

async function websocketPlugin (fastify: FastifyInstance): Promise<void> {
  await fastify.register(websocket, {
    options: {
      maxPayload: fastify.config.WS_MAX_MESSAGE_BYTES,
      // Answer quiver.v1 only: a bearer.<jwt> subprotocol is read by the auth hook, never echoed.
      handleProtocols: (protocols: Set<string>) => (protocols.has('quiver.v1') ? 'quiver.v1' : false),
      perMessageDeflate: false
    },
    // Instead of closing every client at once, let ingest connections ack what they accepted, then 1001.
    preClose: async function (this: FastifyInstance) {
      await closeClients(this.websocketServer.clients, fastify.config.SHUTDOWN_TIMEOUT_MS)
    }
  })
}

export default fp(websocketPlugin, { name: 'websocket' })
