import { request, type IncomingHttpHeaders } from 'node:http'

/**
 * POSTs a body chunk by chunk as the iterable yields it, honouring the socket's backpressure, so a
 * test can send far more than it could hold; stops writing once the gateway answers (a refusal
 * mid-body) and never throws on the request side after that. Resolves with the answer.
 */
export function postChunks (url: string, token: string, chunks: Iterable<Uint8Array>, o: { contentType: string, length?: number }): Promise<{ status: number, body: string, headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { authorization: `Bearer ${token}`, 'content-type': o.contentType }
    if (o.length !== undefined) headers['content-length'] = o.length
    const req = request(url, { method: 'POST', headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }))
    })
    let answered = false
    req.on('response', () => { answered = true })
    req.on('error', (err) => { if (!answered) reject(err) })
    const it = chunks[Symbol.iterator]()
    const pump = (): void => {
      for (;;) {
        if (answered || req.destroyed) return
        const r = it.next()
        if (r.done === true) { req.end(); return }
        if (!req.write(r.value)) { req.once('drain', pump); return }
      }
    }
    pump()
  })
}
