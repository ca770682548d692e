/**
 * Bounded cache of verified tokens → their result, each entry good until its own deadline. Keyed
 * by the whole token string, so a hit costs one Map lookup and no crypto; a tampered token is a
 * different key and goes through full verification. Eviction is oldest-inserted first: a hit
 * does not move the entry (that was a delete and an insert on every request), and a token still
 * in use that gets evicted is simply verified once more.
 */
export interface TokenCache<V> {
  get (token: string, now: number): V | undefined
  set (token: string, value: V, until: number): void
  clear (): void
  readonly size: number
}

export function createTokenCache<V> (max: number): TokenCache<V> {
  const entries = new Map<string, { value: V, until: number }>()
  return {
    get (token, now) {
      const e = entries.get(token)
      if (e === undefined) return undefined
      if (now > e.until) {
        entries.delete(token)
        return undefined
      }
      return e.value
    },
    set (token, value, until) {
      entries.delete(token)
      entries.set(token, { value, until })
      if (entries.size > max) entries.delete(entries.keys().next().value as string)
    },
    clear () { entries.clear() },
    get size () { return entries.size }
  }
}
