import type { IncomingMessage, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, DoneFuncWithErrOrRes, HookHandlerDoneFunction } from 'fastify'
import { ShuttingDownError } from '../../src/errors.ts'
import { lingerBeforeClose } from '../../src/http/linger.ts'

/**
 * How a shutdown ends the HTTP side. fastify.close() stops the listener and closes the
 * connections idle at that moment, then waits for every other connection to end before its
 * onClose hooks (the final buffer flush among them) run.
 *
 * - A request arriving once the close has begun (on a keep-alive connection) is refused with our
 *   503 QUIVER_SHUTTING_DOWN body and Retry-After (not Fastify's bare return503OnClosing answer);
 *   one with a body gets a lingering close, so its client reads the answer instead of a reset.
 * - Every answer carries `connection: close`, and a connection that still turns idle (its answer's
 *   headers went out before the close) is closed once that answer has been sent: a client keeping
 *   its keep-alive connection open (72 s) held the whole shutdown past SHUTDOWN_TIMEOUT_MS.
 * - The cut, at half of SHUTDOWN_TIMEOUT_MS: what is still in flight then and holds no data the
 *   gateway acknowledged is ended, so one slow client cannot hold the shutdown to its deadline
 *   (and its exit 1). Reads still streaming (or not yet answered) lose their connection; an
 *   ingest body still arriving stops with 503 QUIVER_SHUTTING_DOWN (`shutdownSignal`, read by the
 *   ingest route; nothing of it is stored), and any other body still arriving a second later loses
 *   its connection. A request whose body had fully arrived (a durable ingest waiting for its flush)
 *   is never cut: it gets its real answer once its rows are committed.
 */
export const CUT_FRACTION = 0.5
/** How long after the cut a body still arriving, whose route ignores `shutdownSignal`, keeps its connection. */
const STRAGGLER_MS = 1000

interface InFlight { raw: IncomingMessage, res: ServerResponse }

async function drain (fastify: FastifyInstance): Promise<void> {
  let closing = false
  const inFlight = new Set<InFlight>()
  const abort = new AbortController()
  const timers: NodeJS.Timeout[] = []
  const closeIdle = (): void => fastify.server.closeIdleConnections()
  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(fn, ms)
    timer.unref()
    timers.push(timer)
  }

  const cut = (): void => {
    if (inFlight.size > 0) fastify.log.info({ requests: inFlight.size }, 'shutdown: cutting reads and bodies still in flight')
    abort.abort()
    for (const r of inFlight) {
      if (r.res.writableFinished) continue
      // A read (or any answer still streaming) holds nothing the gateway acknowledged.
      if (r.res.headersSent || r.raw.method === 'GET' || r.raw.method === 'HEAD') r.raw.socket?.destroy()
    }
    later(STRAGGLER_MS, () => {
      for (const r of inFlight) if (!r.raw.complete && !r.res.headersSent) r.raw.socket?.destroy()
    })
  }

  fastify.decorate('shutdownSignal', abort.signal)
  fastify.decorate('inFlightRequests', () => inFlight.size)

  fastify.addHook('preClose', (done: HookHandlerDoneFunction) => {
    closing = true
    later(Math.floor(fastify.config.SHUTDOWN_TIMEOUT_MS * CUT_FRACTION), cut)
    done()
  })
  fastify.addHook('onClose', (_instance: FastifyInstance, done: HookHandlerDoneFunction) => {
    for (const timer of timers) clearTimeout(timer)
    done()
  })
  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    if (closing) {
      if (bodyStillArriving(request.raw)) lingerBeforeClose(request.raw)
      done(new ShuttingDownError())
      return
    }
    // An upgraded WebSocket is closed by its own plugin (1001), and its response never closes.
    if (request.ws !== true) {
      const r: InFlight = { raw: request.raw, res: reply.raw }
      inFlight.add(r)
      reply.raw.once('close', () => inFlight.delete(r))
    }
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

function bodyStillArriving (raw: IncomingMessage): boolean {
  if (raw.complete) return false
  return raw.headers['transfer-encoding'] !== undefined || Number(raw.headers['content-length'] ?? 0) > 0
}

export default fp(drain, { name: 'drain' })

declare module 'fastify' {
  interface FastifyInstance {
    /** Aborts at the shutdown's cut: an ingest body still arriving then stops with ShuttingDownError (src/lifecycle/body-cut.ts). */
    shutdownSignal: AbortSignal
    /** HTTP requests not yet answered (WebSocket upgrades aside): what a shutdown past its deadline leaves. */
    inFlightRequests: () => number
  }
}
