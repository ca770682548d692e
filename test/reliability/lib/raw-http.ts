import { connect } from 'node:net'

export interface RawAnswer { status: number, headers: Record<string, string>, body: unknown }

/**
 * Sends a request's head and only the first part of its body, then waits for the answer. For
 * requests the server must refuse on what it has seen so far (an announced or claimed size over
 * its limit): a client that kept writing would race the server closing the connection (EPIPE or
 * a reset that can swallow the answer), which says nothing about the server.
 */
export function earlyAnswer (url: string, path: string, headers: Record<string, string>, head: Uint8Array, timeoutMs = 30_000): Promise<RawAnswer> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let got = Buffer.alloc(0)
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer within ${timeoutMs} ms: ${got.toString().slice(0, 200)}`)) }, timeoutMs)
    const done = (answer: RawAnswer) => { clearTimeout(timer); socket.destroy(); resolve(answer) }
    socket.on('error', () => {}) // the server may close while our first bytes are in flight; the answer is what counts
    socket.on('close', () => { clearTimeout(timer); reject(new Error(`closed without a complete answer: ${got.toString().slice(0, 200)}`)) })
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk])
      const end = got.indexOf('\r\n\r\n')
      if (end < 0) return
      const lines = got.subarray(0, end).toString().split('\r\n')
      const h: Record<string, string> = {}
      for (const l of lines.slice(1)) h[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim()
      const length = Number(h['content-length'])
      if (got.byteLength - end - 4 < length) return
      done({ status: Number(lines[0].split(' ')[1]), headers: h, body: JSON.parse(got.subarray(end + 4, end + 4 + length).toString()) })
    })
    const lines = [`POST ${path} HTTP/1.1`, `host: ${hostname}:${port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
    socket.write(lines.join('\r\n') + '\r\n\r\n')
    socket.write(head)
  })
}

/** One chunk of a `transfer-encoding: chunked` body. */
export function chunk (bytes: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${bytes.byteLength.toString(16)}\r\n`), bytes, Buffer.from('\r\n')])
}
