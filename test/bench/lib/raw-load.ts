import { connect, type Socket } from 'node:net'

export interface RawLoadResult {
  /** Responses with status 200 per second. */
  rps: number
  ok: number
  other: number
}

const STATUS_LINE = Buffer.from('HTTP/1.1 ')
const OK = Buffer.from('200 ')

/**
 * Closed-loop HTTP/1.1 load from pre-serialized request bytes, like wrk: each connection keeps
 * `depth` requests pipelined and sends one more per response. Building and validating requests
 * (what an HTTP client library does per call, and more so for a 1 KB Authorization header) costs
 * the generator nothing here, so on its own core it outruns the server and the rate measured is
 * the server's. Responses are counted by their status lines; the bodies must not contain one.
 */
export async function rawLoad (opts: { port: number, request: string, connections: number, depth: number, ms: number }): Promise<RawLoadResult> {
  const one = Buffer.from(opts.request)
  const batch = Buffer.concat(Array.from({ length: opts.depth }, () => one))
  let ok = 0
  let other = 0
  let stop = false
  const sockets: Socket[] = []
  const run = (): Promise<void> => new Promise((resolve, reject) => {
    const s = connect({ port: opts.port, host: '127.0.0.1', noDelay: true })
    sockets.push(s)
    let tail = Buffer.alloc(0)
    let inFlight = 0
    s.on('connect', () => { s.write(batch); inFlight = opts.depth })
    s.on('data', (chunk: Buffer) => {
      const buf = tail.length ? Buffer.concat([tail, chunk]) : chunk
      let done = 0
      let at = buf.indexOf(STATUS_LINE)
      let last = -1
      while (at !== -1 && at + STATUS_LINE.length + OK.length <= buf.length) {
        if (buf.compare(OK, 0, OK.length, at + STATUS_LINE.length, at + STATUS_LINE.length + OK.length) === 0) ok++
        else other++
        done++
        last = at
        at = buf.indexOf(STATUS_LINE, at + STATUS_LINE.length)
      }
      // Keep what may be the start of a status line cut by the chunk boundary.
      const keepFrom = at !== -1 ? at : Math.max(last + 1, buf.length - STATUS_LINE.length - OK.length)
      tail = Buffer.from(buf.subarray(keepFrom))
      inFlight -= done
      if (stop) {
        if (inFlight === 0) s.end()
        return
      }
      if (done > 0) {
        s.write(done === opts.depth ? batch : batch.subarray(0, done * one.length))
        inFlight += done
      }
    })
    s.on('error', reject)
    s.on('close', () => resolve())
  })
  const t0 = performance.now()
  const all = Promise.all(Array.from({ length: opts.connections }, run))
  await new Promise((resolve) => setTimeout(resolve, opts.ms))
  const elapsed = (performance.now() - t0) / 1000
  const counted = ok
  stop = true
  await all
  return { rps: counted / elapsed, ok: counted, other }
}
