import type { Storage } from '../storage/types.ts'

/**
 * What storage holds for one Idempotency-Key (README "Exactly-once retries"): a folder
 * `_idempotency/{topic}/{scope}/` of numbered claims. A claim is created exclusively (the first
 * request to create generation N owns the key); its owner rewrites it as the request moves on
 * (lease renewed, the request's hash and answer, then, before each Parquet object holding its
 * rows is written, that object's key). The newest generation is the key's state.
 */
export const KEYS_PREFIX = '_idempotency/'

export interface ClaimRecord {
  v: 1
  gen: number
  /** Instance id of the gateway that created it (logs only). */
  owner: string
  /** ms since epoch: the key is forgotten IDEMPOTENCY_TTL_S after it. */
  createdAt: number
  /** ms since epoch: an `open` claim whose lease ran out belongs to a gateway that died. */
  leaseUntil: number
  state: 'open' | 'committed' | 'released'
  /** RequestHash of the request (content type, ack, body). */
  hash?: string
  /** The answer to replay. */
  reply?: { status: number, body: unknown }
  /** Ingestion time of the rows and every partition directory they feed. */
  at?: number
  dirs?: string[]
  /** Objects the rows will become, each named before it is written (a retried flush adds one). */
  objects?: Array<{ key: string, dir: string }>
}

export type KeyState =
  | { kind: 'free', previous: ClaimRecord | null }
  | { kind: 'inflight', claim: ClaimRecord }
  | { kind: 'committed', claim: ClaimRecord }
  /** Some of its partitions' objects were written, the others not (a crash between two puts). */
  | { kind: 'partial', claim: ClaimRecord, committedDirs: Set<string> }

export const claimFolder = (topic: string, scope: string): string => `${KEYS_PREFIX}${topic}/${scope}/`
export const claimKey = (topic: string, scope: string, gen: number): string => `${claimFolder(topic, scope)}${String(gen).padStart(10, '0')}.json`

const encode = (r: ClaimRecord): Uint8Array => Buffer.from(JSON.stringify(r))

/** The newest claim of a key, or null when it has none. */
export async function latestClaim (storage: Storage, topic: string, scope: string): Promise<ClaimRecord | null> {
  for (let attempt = 0; ; attempt++) {
    let newest: string | null = null
    for await (const o of storage.list(claimFolder(topic, scope))) {
      if (o.key.endsWith('.json') && (newest === null || o.key > newest)) newest = o.key
    }
    if (newest === null) return null
    const bytes = await storage.get(newest)
    // Removed between the listing and the read (an expired key swept): list again.
    if (bytes === null && attempt < 3) continue
    if (bytes === null) return null
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8')) as ClaimRecord
    } catch (err) {
      // Read while its owner rewrote it: a store that writes objects in place (s3rver does; S3
      // and the local directory replace them whole) can serve a torn copy. Read it again.
      if (attempt < 5) continue
      throw err
    }
  }
}

/** Creates generation `r.gen`; false when another request (any instance) created it first. */
export async function createClaim (storage: Storage, topic: string, scope: string, r: ClaimRecord): Promise<boolean> {
  return await storage.createExclusive(claimKey(topic, scope, r.gen), encode(r))
}

/** Rewrites a claim its owner holds (only the owner ever writes an existing generation). */
export async function writeClaim (storage: Storage, topic: string, scope: string, r: ClaimRecord): Promise<void> {
  await storage.put(claimKey(topic, scope, r.gen), encode(r))
}

async function exists (storage: Storage, key: string): Promise<boolean> {
  const head = await storage.getRange(key, 0, 4)
  return head !== null && head.byteLength === 4
}

/** The partition directories of a claim whose named objects exist. */
async function committedDirs (storage: Storage, r: ClaimRecord): Promise<Set<string>> {
  const done = new Set<string>()
  for (const o of r.objects ?? []) {
    if (!done.has(o.dir) && await exists(storage, o.key)) done.add(o.dir)
  }
  return done
}

/**
 * What a key's newest claim means now. Committed: every partition the request fed has one of its
 * named objects in storage (whether or not the owner lived to mark it so). In flight: open, lease
 * running, not all written. Free: none, released after an error, expired, or its owner died
 * before any of its objects was written. Partial: the owner died between two partitions' objects.
 */
export async function inspectClaim (storage: Storage, r: ClaimRecord | null, now: number, ttlMs: number): Promise<KeyState> {
  if (r === null || r.state === 'released' || r.createdAt + ttlMs <= now) return { kind: 'free', previous: r }
  if (r.state === 'committed') return { kind: 'committed', claim: r }
  const dirs = r.dirs ?? []
  const done = dirs.length > 0 ? await committedDirs(storage, r) : new Set<string>()
  if (dirs.length > 0 && dirs.every((d) => done.has(d))) return { kind: 'committed', claim: r }
  if (r.leaseUntil > now) return { kind: 'inflight', claim: r }
  if (done.size === 0) return { kind: 'free', previous: r }
  return { kind: 'partial', claim: r, committedDirs: done }
}
