import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { ConnectionLimit } from '../../src/ws/connection-limit.ts'
import { TooManyConnectionsError } from '../../src/errors.ts'

type WsKind = 'stream' | 'tail'

const keyOf = (request: FastifyRequest) => `${request.principal?.provider ?? 'none'}:${request.principal?.sub ?? request.ip}`

/**
 * WS_MAX_CONNECTIONS_PER_SUB over ingest and tail sockets. `wsAdmit` runs as a preHandler (after
 * authentication, before the upgrade: over the limit the client gets a plain 429); `wsHold`
 * counts the socket once upgraded (concurrent upgrades that slipped past the check close 1013),
 * and in the open-connections gauge under its kind until it closes.
 */
async function wsLimits (fastify: FastifyInstance): Promise<void> {
  const limit = new ConnectionLimit(fastify.config.WS_MAX_CONNECTIONS_PER_SUB)
  fastify.decorate('wsAdmit', async (request: FastifyRequest) => {
    if (!limit.allows(keyOf(request))) throw new TooManyConnectionsError(limit.max)
  })
  fastify.decorate('wsHold', (socket: WebSocket, request: FastifyRequest, kind: WsKind): boolean => {
    const key = keyOf(request)
    if (!limit.acquire(key)) {
      socket.close(1013, 'too many connections')
      return false
    }
    fastify.metrics.wsConnections.inc({ kind })
    socket.once('close', () => {
      limit.release(key)
      fastify.metrics.wsConnections.dec({ kind })
    })
    return true
  })
}

export default fp(wsLimits, { name: 'ws-limits' })

declare module 'fastify' {
  interface FastifyInstance {
    wsAdmit: (request: FastifyRequest) => Promise<void>
    wsHold: (socket: WebSocket, request: FastifyRequest, kind: 'stream' | 'tail') => boolean
  }
}
