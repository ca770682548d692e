import { PassThrough } from 'node:stream'
import t from 'tap'
import { cutOnShutdown } from '../../src/lifecycle/body-cut.ts'
import { logTimeout } from '../../src/lifecycle/shutdown.ts'

// src/lifecycle/body-cut.ts: a body still arriving at the shutdown's cut stops with 503
// QUIVER_SHUTTING_DOWN; one that had fully arrived is read to its end.

function body (): { stream: PassThrough, arrived: { done: boolean } } {
  const stream = new PassThrough()
  const arrived = { done: false }
  stream.on('end', () => { arrived.done = true })
  return { stream, arrived }
}

t.test('a read waiting for more of the body rejects with QUIVER_SHUTTING_DOWN at the cut, and return() does not wait for the stalled source', async (t) => {
  const { stream, arrived } = body()
  const abort = new AbortController()
  const it = cutOnShutdown(stream.iterator({ destroyOnReturn: false }), abort.signal, () => arrived.done)
  stream.write('a')
  t.same(Buffer.from((await it.next()).value!).toString(), 'a')
  const waiting = it.next()
  abort.abort()
  await t.rejects(waiting, { code: 'QUIVER_SHUTTING_DOWN', statusCode: 503 })
  t.same(await it.return!(), { done: true, value: undefined }, 'return() answers at once')
  await t.rejects(it.next(), { code: 'QUIVER_SHUTTING_DOWN' }, 'and every later read')
  t.notOk(stream.destroyed, 'the request is not destroyed: its answer must still go out')
})

t.test('a body that had fully arrived is read to its end after the cut', async (t) => {
  const { stream } = body()
  const abort = new AbortController()
  const complete = { done: false } // as IncomingMessage.complete: set once parsed, before the bytes are read
  const it = cutOnShutdown(stream.iterator({ destroyOnReturn: false }), abort.signal, () => complete.done)
  stream.end('abc')
  complete.done = true
  abort.abort()
  const got: string[] = []
  for await (const chunk of it) got.push(Buffer.from(chunk).toString())
  t.same(got, ['abc'])
})

t.test('the timeout line: error only when rows were left unflushed', async (t) => {
  const lines: Array<[string, unknown, string]> = []
  const log = {
    error: (o: unknown, m?: string) => lines.push(['error', typeof o === 'string' ? undefined : o, m ?? String(o)]),
    warn: (o: unknown, m?: string) => lines.push(['warn', o, m ?? ''])
  } as unknown as Parameters<typeof logTimeout>[0]
  logTimeout(log, 8000, { bufferedRows: 0, bufferedBytes: 0, openRequests: 2 })
  logTimeout(log, 8000, { bufferedRows: 5, bufferedBytes: 640, openRequests: 1 })
  t.same(lines, [
    ['warn', { bufferedRows: 0, bufferedBytes: 0, openRequests: 2 }, 'shutdown: every buffer was flushed, but 2 requests were still open at SHUTDOWN_TIMEOUT_MS (8000 ms): exiting, their connections are cut'],
    ['error', { bufferedRows: 5, bufferedBytes: 640, openRequests: 1 }, 'shutdown: buffers not flushed within SHUTDOWN_TIMEOUT_MS (8000 ms): exiting; 5 rows (640 bytes) not on storage are lost']
  ])
})
