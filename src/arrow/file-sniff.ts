/*
 * An Arrow IPC file sent as `application/vnd.apache.arrow.stream` (polars' `writeIPC` and
 * pyarrow's `ipc.new_file` write files; curl users label every .arrow body a stream) would
 * otherwise fail with "message 1 claims a metadata length of 1330795073 bytes": the magic
 * "ARRO" read as a length. No stream can start with the file magic (a stream starts with a
 * continuation marker or a message length), so the first bytes decide unambiguously.
 */

export const ARROW_MAGIC = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31] // "ARROW1"

/** Whether `b` starts with the Arrow IPC file magic. */
export function startsWithFileMagic (b: Uint8Array): boolean {
  return b.byteLength >= ARROW_MAGIC.length && ARROW_MAGIC.every((c, i) => b[i] === c)
}

/**
 * Reads the body's first bytes (at least 6, or all there are) and tells whether it is an Arrow
 * IPC file; `body` yields every byte again, the peeked ones first.
 */
export async function sniffArrowFile (source: AsyncIterable<Uint8Array | string>): Promise<{ isFile: boolean, body: AsyncGenerator<Uint8Array> }> {
  const it = source[Symbol.asyncIterator]()
  const head: Uint8Array[] = []
  let n = 0
  let done = false
  // A source that fails this early fails again where it is read, so its reader reports it as before.
  let failure: { err: unknown } | null = null
  try {
    while (n < ARROW_MAGIC.length) {
      const r = await it.next()
      if (r.done === true) { done = true; break }
      const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value
      head.push(chunk)
      n += chunk.byteLength
    }
  } catch (err) {
    failure = { err }
    done = true
  }
  const first = head.length === 1 ? head[0] : Buffer.concat(head)
  async function * body (): AsyncGenerator<Uint8Array> {
    try {
      if (n > 0) yield first
      if (failure !== null) throw failure.err
      if (done) return
      for (let r = await it.next(); r.done !== true; r = await it.next()) yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value
    } finally {
      if (!done) await it.return?.()
    }
  }
  return { isFile: startsWithFileMagic(first), body: body() }
}
