import { InvalidIdempotencyKeyError } from '../errors.ts'
import { parseIdempotencyKey } from '../lake/idempotency-key.ts'

/** Larger text frames are never key announcements (a key is at most 255 characters). */
const MAX_ANNOUNCEMENT_BYTES = 1024

/** The key the client announced for its next binary message, or why it cannot be used. */
export type Announced = { key: string } | { error: Error }

/**
 * A client text frame `{"type":"key","key":"<Idempotency-Key>"}` announces the key of the next
 * binary message on the connection (README "Exactly-once over WebSocket"). A text frame keeps the
 * message's bytes exactly what the producer library wrote (no schema metadata to add) and is one
 * `send` in a browser; connections that never send one see no change. Returns undefined for any
 * other text frame (refused as before, QUIVER_TEXT_FRAME).
 */
export function keyAnnouncement (data: Buffer): Announced | undefined {
  if (data.byteLength > MAX_ANNOUNCEMENT_BYTES || data[0] !== 0x7b) return undefined
  let frame: unknown
  try {
    frame = JSON.parse(data.toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof frame !== 'object' || frame === null || (frame as { type?: unknown }).type !== 'key') return undefined
  const key = (frame as { key?: unknown }).key
  try {
    if (typeof key !== 'string') throw new InvalidIdempotencyKeyError()
    return { key: parseIdempotencyKey(key)! }
  } catch (err) {
    return { error: err as Error }
  }
}
