import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, DoneFuncWithErrOrRes, HookHandlerDoneFunction } from 'fastify'

/**
 * Keep-alive connections end with the shutdown. fastify.close() stops the listener and closes
 * the connections idle at that moment, then waits for every other connection to end before its
 * onClose hooks (the final buffer flush among them) run. A connection whose request was in
 * flight becomes idle again once answered, and Node keeps it open for keepAliveTimeout (72 s)
 * unless the client sends another request on it (answered 503, `connection: close`) or leaves.
 * A client that does neither, say one that checks the gateway's health before retrying,
 * held the whole shutdown past SHUTDOWN_TIMEOUT_MS.
 *
 * So once the close has begun, every answer carries `connection: close` (Node closes the socket
 * after writing it), and a connection that still turns idle (its answer's headers went out before
 * the close) is closed as soon as that answer has been sent.
 */
async function drain (fastify: FastifyInstance): Promise<void> {
  let closing = false
  const closeIdle = (): void => fastify.server.closeIdleConnections()

  fastify.addHook('preClose', (done: HookHandlerDoneFunction) => {
    closing = true
    done()
  })
  fastify.addHook('onSend', (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: DoneFuncWithErrOrRes) => {
    // HTTP/2 has no connection header (and closes its sessions itself).
    if (closing && request.raw.httpVersionMajor === 1 && !reply.raw.headersSent) reply.header('connection', 'close')
    done(null, payload)
  })
  fastify.addHook('onResponse', (_request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    // Node marks the connection idle only after 'finish' has been handled.
    if (closing) setImmediate(closeIdle)
    done()
  })
}

export default fp(drain, { name: 'drain' })
