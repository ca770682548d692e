import { createHash, type Hash } from 'node:crypto'
import { InvalidIdempotencyKeyError, PayloadTooLargeError } from '../errors.ts'

/** An Idempotency-Key header: 1–255 visible ASCII characters (0x21–0x7E), so it fits an object key. */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/

/** Who a key belongs to: the provider stands for `iss` (each provider has exactly one issuer). */
export interface KeyOwner {
  provider: string
  sub: string
}

/** The header's value, checked; undefined when the request has none. */
export function parseIdempotencyKey (value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined
  if (Array.isArray(value) || !KEY_PATTERN.test(value)) throw new InvalidIdempotencyKeyError()
  return value
}

/**
 * The name of a key in storage: a digest of (issuer, subject, key), so keys of other principals
 * never meet, and neither the caller's key (any visible ASCII, `/` included) nor its subject ever
 * becomes part of an object key.
 */
export function keyScope (owner: KeyOwner, key: string): string {
  return createHash('sha256').update(owner.provider).update('\0').update(owner.sub).update('\0').update(key).digest('hex')
}

/**
 * "Same request" (a retry, not another body under a reused key): SHA-256 over content type, ack mode and the body bytes. The
 * body is hashed as it streams by (`tap`), never held for it.
 */
export class RequestHash {
  readonly #hash: Hash
  #digest: string | null = null

  constructor (contentType: string, ack: string) {
    this.#hash = createHash('sha256').update(contentType).update('\0').update(ack).update('\0')
  }

  update (chunk: Uint8Array): void {
    this.#hash.update(chunk)
  }

  /** Passes the body through unchanged, hashing every chunk. */
  async * tap (body: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>): AsyncGenerator<Uint8Array> {
    for await (const c of body) {
      const chunk = typeof c === 'string' ? Buffer.from(c) : c
      this.#hash.update(chunk)
      yield chunk
    }
  }

  /** Reads the rest of the body only to hash it (a replay must match the first body). */
  async drain (body: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>, maxBytes: number): Promise<string> {
    let seen = 0
    for await (const chunk of this.tap(body)) {
      seen += chunk.byteLength
      if (seen > maxBytes) throw new PayloadTooLargeError(maxBytes)
    }
    return this.digest()
  }

  digest (): string {
    this.#digest ??= this.#hash.digest('hex')
    return this.#digest
  }
}
