import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'

/**
 * `Expect: 100-continue`: Node answers `100 Continue` as soon as the headers arrive unless the
 * server handles 'checkContinue', so a client was told to send its body before anything was
 * checked (a 5 GB Content-Length got 100, then 413). Here the 100 goes only once the route starts
 * reading the body: a request refused before that (401, 403, 404, 413 on its Content-Length, 415,
 * 503 overloaded) is answered without the client sending a byte of its body.
 */
async function expectContinue (fastify: FastifyInstance): Promise<void> {
  fastify.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    continueOnFirstRead(req, res)
    fastify.server.emit('request', req, res)
  })
}

/** Sends `100 Continue` when the body is first read (a readable's `_read`: Node's own hook). */
export function continueOnFirstRead (req: IncomingMessage, res: ServerResponse): void {
  const stream = req as IncomingMessage & { _read: (n: number) => void }
  const read = stream._read
  stream._read = function (this: IncomingMessage, n: number) {
    stream._read = read
    if (!res.headersSent && !res.writableEnded) res.writeContinue()
    read.call(this, n)
  }
}

export default fp(expectContinue, { name: 'expect-continue' })
