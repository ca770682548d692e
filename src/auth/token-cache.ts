/**
 * Bounded cache of verified tokens → their result, each entry good until its own deadline.
 *
 * A hit must cost less than the request it guards, and hashing a whole 700–1,000 character JWT
 * costs about 1 µs (each request brings the token as a new string, so V8 has no hash cached).
 * Entries are therefore found by the token's last KEY_CHARS characters, the tail of its
 * signature, and a hit is then confirmed by comparing the whole token: a forged token sharing
 * the tail is a different token, misses, and goes through full verification (which it fails, so
 * it never replaces the entry). Two genuine tokens sharing a tail only evict each other.
 *
 * Eviction is oldest-inserted first: a hit does not move the entry (that was a delete and an
 * insert on every request), and a token still in use that gets evicted is verified once more.
 */
export interface TokenCache<V> {
  get (token: string, now: number): V | undefined
  set (token: string, value: V, until: number): void
  clear (): void
  readonly size: number
}

const KEY_CHARS = 32

const keyOf = (token: string): string => token.slice(-KEY_CHARS)

export function createTokenCache<V> (max: number): TokenCache<V> {
  const entries = new Map<string, { token: string, value: V, until: number }>()
  return {
    get (token, now) {
      const key = keyOf(token)
      const e = entries.get(key)
      if (e === undefined || e.token !== token) return undefined
      if (now > e.until) {
        entries.delete(key)
        return undefined
      }
      return e.value
    },
    set (token, value, until) {
      const key = keyOf(token)
      entries.delete(key)
      entries.set(key, { token, value, until })
      if (entries.size > max) entries.delete(entries.keys().next().value as string)
    },
    clear () { entries.clear() },
    get size () { return entries.size }
  }
}
