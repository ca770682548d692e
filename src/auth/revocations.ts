import type { Storage } from '../storage/types.ts'

export const MINTED_PREFIX = '_auth/tokens/'
export const REVOKED_PREFIX = '_auth/revoked/'
/** jti as minted (a UUID), checked before it becomes part of a storage key. */
export const JTI_PATTERN = '^[A-Za-z0-9-]{8,64}$'
const JTI = new RegExp(JTI_PATTERN)

export interface MintRecord { jti: string, sub: string, roles: string[], exp: number, mintedAt: string }

/**
 * Revoked minted tokens, kept in the same storage as the catalog so every instance sharing it
 * refuses them. Each revocation is one object `_auth/revoked/{exp}.{jti}` (the expiry in the key:
 * one listing gives everything, no object is read). Every instance re-lists every `pollMs`, so a
 * revocation made elsewhere takes effect here within one poll; the instance that revoked knows at
 * once. Fails closed: when the list could not be read for `3 × pollMs`, minted tokens get 503.
 */
export interface RevocationList {
  has (jti: string): boolean
  /** False while the list is too old to be trusted (storage unreadable). */
  fresh (): boolean
  /** The mint record of a token this gateway (or another sharing the storage) minted, or null. */
  minted (jti: string): Promise<MintRecord | null>
  recordMint (record: MintRecord): Promise<void>
  revoke (jti: string, exp: number): Promise<void>
  /**
   * Calls `listener` once when `jti` is revoked: at once on this instance's revoke, else on the
   * poll that first sees it (soon after this call when it is revoked already). Also once, with
   * 'unverifiable', when the list stops being fresh: a token that cannot be checked is not trusted
   * by a connection opened while it could be (fail closed, as new requests get 503). Returns the
   * unsubscribe, for when the listener's owner goes away first (a WebSocket closing).
   */
  onRevoked (jti: string, listener: (why: RevokedWhy) => void): () => void
  /** How many jtis have listeners waiting (none once every socket that subscribed has closed). */
  listening (): number
  /** Reads the list now; resolves false when storage failed. */
  poll (): Promise<boolean>
  close (): void
}

/** 'revoked': the token is on the list; 'unverifiable': the list could not be read for 3 polls. */
export type RevokedWhy = 'revoked' | 'unverifiable'

export interface RevocationOptions { pollMs: number, now?: () => number, onError?: (err: Error) => void }

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Writes the record DELETE /v1/admin/tokens/{jti} looks for (also used by `quiver token`, which holds no list). */
export async function writeMintRecord (storage: Storage, record: MintRecord): Promise<void> {
  await storage.put(`${MINTED_PREFIX}${record.jti}.json`, encoder.encode(JSON.stringify(record)))
}

export function createRevocationList (storage: Storage, opts: RevocationOptions): RevocationList {
  const now = opts.now ?? Date.now
  const revoked = new Map<string, number>()
  const listeners = new Map<string, Set<(why: RevokedWhy) => void>>()
  // Never read yet: not fresh. A list that could not be read at startup must not pass for an
  // empty one (a revoked token would be trusted until the reads fail three times), so minted
  // tokens get 503 until the first read succeeds.
  let lastOk = -Infinity
  let polling: Promise<boolean> | undefined

  async function read (): Promise<boolean> {
    try {
      const nowS = now() / 1000
      for await (const o of storage.list(REVOKED_PREFIX)) {
        const m = /^_auth\/revoked\/(\d+)\.([A-Za-z0-9-]+)$/.exec(o.key)
        if (m && Number(m[1]) > nowS) revoked.set(m[2], Number(m[1]))
      }
      // Forget what has expired anyway: the token itself is refused by its exp.
      for (const [jti, exp] of revoked) if (exp <= nowS) revoked.delete(jti)
      lastOk = now()
      for (const jti of listeners.keys()) if (revoked.has(jti)) notify(jti, 'revoked')
      return true
    } catch (err) {
      opts.onError?.(err as Error)
      return false
    }
  }

  function notify (jti: string, why: RevokedWhy): void {
    const set = listeners.get(jti)
    if (set === undefined) return
    listeners.delete(jti)
    for (const listener of set) {
      try {
        listener(why)
      } catch (err) {
        opts.onError?.(err as Error)
      }
    }
  }

  // Freshness is decided on each tick, so the per-request check is a boolean read. Turning stale
  // tells every open connection's listener: none was opened while the list was stale (503).
  let isFresh = false
  function decideFreshness (): void {
    const was = isFresh
    isFresh = now() - lastOk < 3 * opts.pollMs
    if (was && !isFresh) for (const jti of [...listeners.keys()]) notify(jti, 'unverifiable')
  }
  const poll = (): Promise<boolean> => (polling ??= read().finally(() => {
    polling = undefined
    decideFreshness()
  }))
  const timer = setInterval(() => {
    decideFreshness()
    poll().catch(() => {})
  }, opts.pollMs)
  timer.unref()

  return {
    has: (jti) => revoked.has(jti),
    fresh: () => isFresh,
    async minted (jti) {
      if (!JTI.test(jti)) return null
      const bytes = await storage.get(`${MINTED_PREFIX}${jti}.json`)
      return bytes ? JSON.parse(decoder.decode(bytes)) as MintRecord : null
    },
    recordMint: (record) => writeMintRecord(storage, record),
    async revoke (jti, exp) {
      if (!JTI.test(jti)) throw new TypeError('bad jti')
      await storage.put(`${REVOKED_PREFIX}${exp}.${jti}`, encoder.encode('{}'))
      revoked.set(jti, exp)
      notify(jti, 'revoked')
    },
    onRevoked (jti, listener) {
      let set = listeners.get(jti)
      if (set === undefined) listeners.set(jti, set = new Set())
      // A wrapper per call: the same function subscribed twice is two subscriptions.
      const once = (why: RevokedWhy): void => listener(why)
      set.add(once)
      // Revoked (or the list gone stale) between the token's check and this call: told on the
      // next turn, after the caller holds its unsubscribe.
      if (revoked.has(jti)) queueMicrotask(() => notify(jti, 'revoked'))
      else if (!isFresh) queueMicrotask(() => notify(jti, 'unverifiable'))
      return () => {
        const current = listeners.get(jti)
        if (current === undefined) return
        current.delete(once)
        if (current.size === 0) listeners.delete(jti)
      }
    },
    listening: () => listeners.size,
    poll,
    close () {
      clearInterval(timer)
      listeners.clear()
    }
  }
}
