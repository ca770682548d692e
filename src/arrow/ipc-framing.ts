import { InvalidArrowError, PayloadTooLargeError } from '../errors.ts'
import { readMessageHeader } from './fb-check.ts'

export { readMessageHeader }

/** Largest flatbuffer header we accept (a 10,000-column schema is well under 2 MiB). */
export const MAX_METADATA_BYTES = 16 * 1024 * 1024

export interface FrameLimits {
  /** Total bytes the whole body may have → PayloadTooLargeError (413). */
  maxBytes: number
  /** Largest single message (header + body) a producer may send → InvalidArrowError (400) beyond. */
  maxMessageBytes: number
  /** Reject input that ends without the end-of-stream marker (a cut at a message boundary). */
  requireEos?: boolean
  /**
   * Bytes of further end-of-stream markers tolerated after the first (default 0: a stream ends
   * at its marker). Only an IPC file's region before its footer has them (see readArrowFile).
   */
  trailingEos?: number
  /** Where a message body that spans input chunks is copied to (default: a new buffer). */
  alloc?: (n: number) => Uint8Array
}

export type ByteSource = AsyncIterable<Uint8Array | string> | Iterable<Uint8Array>

/** A body's buffer is allocated once 1/BODY_PROOF of it has arrived (IpcFramer.body). */
const BODY_PROOF = 4

const HEADER_NAMES = ['none', 'schema', 'dictionary batch', 'record batch', 'tensor', 'sparse tensor']

/**
 * Reads an Arrow IPC stream's framing from `source` and yields exactly the bytes of complete,
 * length-checked messages (header piece, then body piece), so the apache-arrow reader behind it
 * never sees a length it could misread as a huge allocation. Counts every byte it pulls.
 * Ends on the end-of-stream marker or a clean end of input at a message boundary.
 */
export class IpcFramer {
  bytes = 0
  messages = 0
  ended = false
  private chunks: Uint8Array[] = []
  private buffered = 0
  private consumed = 0
  private readonly it: AsyncIterator<Uint8Array | string> | Iterator<Uint8Array>
  private done = false

  constructor (source: ByteSource, private readonly limits: FrameLimits) {
    this.it = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]()
  }

  /** Pulls chunks until `n` bytes are buffered; false if the input ends first. */
  private async fill (n: number): Promise<boolean> {
    while (this.buffered < n) {
      const chunk = await this.pull()
      if (chunk === null) return false
      if (chunk.byteLength > 0) { this.chunks.push(chunk); this.buffered += chunk.byteLength }
    }
    return true
  }

  /** The next input chunk, counted against maxBytes; null at the end of input. */
  private async pull (): Promise<Uint8Array | null> {
    if (this.done) return null
    const r = await this.it.next()
    if (r.done === true) { this.done = true; return null }
    const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value
    this.bytes += chunk.byteLength
    if (this.bytes > this.limits.maxBytes) throw new PayloadTooLargeError(this.limits.maxBytes)
    return chunk
  }

  /**
   * A message body of `n` bytes: a view of the input when one chunk holds it all (a WebSocket
   * message), else one buffer the rest of the input is copied into chunk by chunk as it arrives,
   * so that a large message is in memory about once, not also as all the chunks it came in
   * (twice its size at the copy, and the chunks left as garbage). The buffer is taken once a
   * quarter of the body has arrived: a length prefix alone never allocates more than four times
   * what the client has sent. Null if the input ends first.
   */
  private async body (n: number): Promise<Uint8Array | null> {
    if (!await this.fill(Math.min(n, Math.max(1, Math.ceil(n / BODY_PROOF))))) return null
    if (this.buffered >= n) return this.take(n)
    const out = this.limits.alloc?.(n) ?? new Uint8Array(n)
    let at = 0
    for (const c of this.chunks) { out.set(c, at); at += c.byteLength }
    this.chunks = []
    this.buffered = 0
    while (at < n) {
      const c = await this.pull()
      if (c === null) return null
      const k = Math.min(c.byteLength, n - at)
      out.set(k === c.byteLength ? c : c.subarray(0, k), at)
      at += k
      if (k < c.byteLength) { this.chunks.push(c.subarray(k)); this.buffered = c.byteLength - k }
    }
    this.consumed += n
    return out
  }

  private take (n: number): Uint8Array {
    this.buffered -= n
    this.consumed += n
    const first = this.chunks[0]
    if (first.byteLength >= n) {
      if (first.byteLength === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = this.limits.alloc?.(n) ?? new Uint8Array(n)
    let at = 0
    while (at < n) {
      const c = this.chunks[0]
      const k = Math.min(c.byteLength, n - at)
      out.set(c.subarray(0, k), at)
      at += k
      if (k === c.byteLength) this.chunks.shift()
      else this.chunks[0] = c.subarray(k)
    }
    return out
  }

  private truncated (what: string): never {
    throw new InvalidArrowError(`truncated stream: input ended inside ${what} of message ${this.messages + 1} (after ${this.bytes} bytes)`)
  }

  private checkLength (what: string, n: number, cap: number): void {
    if (n > cap) throw new InvalidArrowError(`message ${this.messages + 1} claims a ${what} of ${n} bytes, over the limit of ${cap} bytes`)
    if (this.consumed + n > this.limits.maxBytes) throw new PayloadTooLargeError(this.limits.maxBytes)
  }

  /** What follows the end-of-stream marker: nothing, or only further markers within `trailingEos` bytes. */
  private async afterEos (): Promise<void> {
    const allowed = this.limits.trailingEos ?? 0
    // One byte past the allowance is enough to refuse: the rest of a hostile body is never pulled.
    if (!await this.fill(allowed + 1) && onlyEosMarkers(Buffer.concat(this.chunks))) return
    throw new InvalidArrowError(`unexpected data after the end-of-stream marker (message ${this.messages + 1})`)
  }

  async * frames (): AsyncGenerator<Uint8Array> {
    while (true) {
      if (!await this.fill(4)) {
        if (this.buffered > 0) this.truncated('the length prefix')
        if (this.limits.requireEos === true && this.messages > 0) {
          throw new InvalidArrowError(`truncated stream: input ended after message ${this.messages} without the end-of-stream marker`)
        }
        this.ended = true
        return
      }
      let prefix = 4
      let metaLen = readInt32(this.take(4))
      if (metaLen === -1) { // continuation marker, then the real length
        if (!await this.fill(4)) this.truncated('the length prefix')
        metaLen = readInt32(this.take(4))
        prefix = 8
      }
      if (metaLen === 0) {
        this.ended = true
        await this.afterEos()
        return
      }
      if (metaLen < 0) throw new InvalidArrowError(`message ${this.messages + 1} has a negative metadata length (${metaLen})`)
      this.checkLength('metadata length', metaLen, Math.min(MAX_METADATA_BYTES, this.limits.maxMessageBytes))
      if (!await this.fill(metaLen)) this.truncated('the metadata')
      const meta = this.take(metaLen)
      const { headerType, bodyLength } = readMessageHeader(meta)
      const expect = this.messages === 0 ? [1] : [2, 3]
      if (!expect.includes(headerType)) {
        const name = HEADER_NAMES[headerType] ?? `unknown (${headerType})`
        throw new InvalidArrowError(this.messages === 0
          ? `the stream must start with a schema message, got ${name}`
          : `unexpected ${name} message at message ${this.messages + 1}`)
      }
      this.checkLength('body length', bodyLength, this.limits.maxMessageBytes - metaLen)
      const head = new Uint8Array(prefix + metaLen)
      const dv = new DataView(head.buffer)
      if (prefix === 8) dv.setInt32(0, -1, true)
      dv.setInt32(prefix - 4, metaLen, true)
      head.set(meta, prefix)
      // The header goes first: the reader asks for the body only once it has parsed it.
      if (bodyLength === 0) { this.messages++; yield head; continue }
      yield head
      const body = await this.body(bodyLength)
      if (body === null) this.truncated('the body')
      this.messages++
      yield body
    }
  }
}

/** Whether `b` is whole end-of-stream markers: 0xFFFFFFFF 0x00000000, or the pre-1.0 0x00000000 alone. */
function onlyEosMarkers (b: Uint8Array): boolean {
  if (b.byteLength % 4 !== 0) return false
  for (let at = 0; at < b.byteLength; at += 4) {
    let word = readInt32(b.subarray(at))
    if (word === -1 && at + 8 <= b.byteLength) word = readInt32(b.subarray(at += 4)) // continuation, then the zero length
    if (word !== 0) return false
  }
  return true
}

function readInt32 (b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true)
}
