import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import { closeClients } from '../../src/ws/shutdown.ts'
import { UpgradeRequiredError } from '../../src/errors.ts'

async function websocketPlugin (fastify: FastifyInstance): Promise<void> {
  // A plain GET of a WebSocket route got @fastify/websocket's bare 404 (no body, no code): say what the route wants.
  fastify.addHook('onRoute', (route) => {
    if (route.websocket !== true) return
    const own = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler]
    route.preHandler = [async (request) => {
      if (request.headers.upgrade?.toLowerCase() !== 'websocket') throw new UpgradeRequiredError()
    }, ...own]
  })
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
