import { systemClock, type Clock } from '../clock.ts'
import type { Storage } from '../storage/types.ts'
import { randomBytes } from 'node:crypto'
import { keyScope, type KeyOwner } from '../lake/idempotency-key.ts'
import { createClaim, inspectClaim, latestClaim, writeClaim, type ClaimRecord } from './key-claims.ts'
import { storageFault } from './guard.ts'

/** Names this process in the claims it writes (for logs and operators only). */
const OWNER = randomBytes(6).toString('hex')

export interface IdempotencyOptions {
  storage: Storage
  ttlMs: number
  leaseMs: number
  /** Wall-clock ms since epoch (claims are compared across instances). Tests move it. */
  now?: () => number
  /** Schedules lease renewals. */
  clock?: Clock
  log?: { warn: (obj: object, msg: string) => void }
  /** Committed keys answered from memory, newest kept (default 10,000). */
  cacheEntries?: number
}

/** What the flush path sees of a keyed request (src/pipeline/flush.ts). */
export interface KeyPlan {
  /** `scope:gen`, written into the footer of every object holding the request's rows. */
  readonly footer: string
  /** Records, before the object is written, that this object will hold the request's rows of `dir`. */
  naming (objectKey: string, dir: string): Promise<void>
}

export type Begin =
  | { kind: 'inflight' }
  | { kind: 'replay', claim: ClaimRecord }
  | { kind: 'claimed', claim: KeyClaim }

/** A key this instance owns while its request runs. */
export class KeyClaim implements KeyPlan {
  readonly scope: string
  readonly topic: string
  /** Set when a dead gateway committed part of the same request: reuse its time, skip these dirs. */
  readonly resume: { at: number, hash: string | undefined, committedDirs: Set<string>, previous: ClaimRecord } | null
  #record: ClaimRecord
  #chain: Promise<void> = Promise.resolve()
  #keys: IdempotencyKeys

  constructor (keys: IdempotencyKeys, topic: string, scope: string, record: ClaimRecord, resume: KeyClaim['resume']) {
    this.#keys = keys
    this.topic = topic
    this.scope = scope
    this.#record = record
    this.resume = resume
  }

  get footer (): string { return `${this.scope}:${this.#record.gen}` }
  get record (): Readonly<ClaimRecord> { return this.#record }
  get open (): boolean { return this.#record.state === 'open' }

  /** The request was read: what identifies it and what to answer. Kept in memory, written with the next write. */
  answer (hash: string, reply: { status: number, body: unknown }): void {
    this.#record.hash = hash
    this.#record.reply = reply
  }

  /** The rows' ingestion time and partitions, known before they are buffered. */
  plan (at: number, dirs: string[]): void {
    this.#record.at = at
    this.#record.dirs = [...new Set([...dirs, ...this.resume?.committedDirs ?? []])]
    this.#record.objects = [...this.#record.objects ?? []]
  }

  naming (objectKey: string, dir: string): Promise<void> {
    this.#record.objects = [...this.#record.objects ?? [], { key: objectKey, dir }]
    return this.#write()
  }

  /** Every row is committed: replayed from now on (the mark only saves a later reader some checks). */
  committed (): void {
    this.#record.state = 'committed'
    this.#keys.settle(this, this.#record)
    this.#write().catch((err: Error) => this.#keys.warn({ err, topic: this.topic }, 'marking an idempotency key committed failed (its objects still prove it)'))
  }

  /** The request failed and committed nothing: its key is free again. */
  async release (): Promise<void> {
    this.#record.state = 'released'
    this.#keys.settle(this, null)
    await this.#write().catch((err: Error) => {
      // Free again on other instances once its lease ends; on this one at once (begin).
      this.#keys.unwrittenRelease(this)
      this.#keys.warn({ err, topic: this.topic }, 'releasing an idempotency key failed (free again once its lease ends)')
    })
  }

  /**
   * A request with another body found this key partly committed (422): the key keeps meaning the
   * first request, so this generation becomes a copy of the dead one (lease over: partial again).
   */
  async abandon (): Promise<void> {
    const previous = this.resume?.previous
    if (previous === undefined) return await this.release()
    this.#record = { ...previous, gen: this.#record.gen, leaseUntil: 0 }
    this.#keys.settle(this, null)
    await this.#write().catch((err: Error) => this.#keys.warn({ err, topic: this.topic }, 'restoring a partly committed idempotency key failed'))
  }

  /** Renews the lease when a third of it is left to run. */
  renewIfDue (now: number, leaseMs: number): void {
    if (this.#record.state !== 'open' || this.#record.leaseUntil - now > leaseMs * 2 / 3) return
    this.#record.leaseUntil = now + leaseMs
    this.#write().catch((err: Error) => this.#keys.warn({ err, topic: this.topic }, 'renewing an idempotency lease failed'))
  }

  /** Writes the whole record; writes of one claim run one after the other, the last one wins. */
  #write (): Promise<void> {
    const snapshot = { ...this.#record }
    const run = this.#chain.then(() => writeClaim(this.#keys.storage, this.topic, this.scope, snapshot))
    this.#chain = run.catch(() => {})
    return run
  }
}

/**
 * Idempotency-Key bookkeeping of one gateway instance over the shared storage (exactly-once retries, README "Exactly-once retries").
 * Keys in flight here are answered from memory (409), committed ones from a bounded cache; every
 * other question goes to the key's claims in storage, so instances and restarts agree.
 */
export class IdempotencyKeys {
  readonly storage: Storage
  readonly #o: IdempotencyOptions
  readonly #now: () => number
  readonly #clock: Clock
  /** topic/scope → the claim this instance holds, or a lookup under way (null). */
  readonly #local = new Map<string, KeyClaim | null>()
  readonly #done = new Map<string, ClaimRecord>()
  /** topic/scope → the generation this instance released but could not mark so (storage failing). */
  readonly #unwritten = new Map<string, number>()
  #timer: unknown = null
  #closed = false

  constructor (o: IdempotencyOptions) {
    this.storage = o.storage
    this.#o = o
    this.#now = o.now ?? Date.now
    this.#clock = o.clock ?? systemClock
  }

  /** Starts a keyed request: in flight elsewhere, a replay to check against, or the key is ours. */
  async begin (topic: string, owner: KeyOwner, key: string): Promise<Begin> {
    const scope = keyScope(owner, key)
    const id = `${topic}/${scope}`
    if (this.#local.has(id)) return { kind: 'inflight' }
    const cached = this.#done.get(id)
    if (cached !== undefined) {
      if (cached.createdAt + this.#o.ttlMs > this.#now()) return { kind: 'replay', claim: cached }
      this.#done.delete(id)
    }
    this.#local.set(id, null) // a second local request for it meanwhile is in flight
    try {
      let latest = await latestClaim(this.storage, topic, scope)
      // A generation this instance released (the request failed) while storage could not record
      // it: its lease is over for this instance, which knows (a retry got 409 until it ended).
      // Checked like any expired claim, so a part its request did commit is still found.
      if (latest !== null && latest.state === 'open' && latest.owner === OWNER && this.#unwritten.get(id) === latest.gen) latest = { ...latest, leaseUntil: 0 }
      const state = await inspectClaim(this.storage, latest, this.#now(), this.#o.ttlMs)
      if (state.kind === 'inflight') return { kind: 'inflight' }
      if (state.kind === 'committed') {
        this.#remember(id, state.claim)
        return { kind: 'replay', claim: state.claim }
      }
      const now = this.#now()
      const record: ClaimRecord = { v: 1, gen: (latest?.gen ?? 0) + 1, owner: OWNER, createdAt: now, leaseUntil: now + this.#o.leaseMs, state: 'open' }
      let resume: KeyClaim['resume'] = null
      if (state.kind === 'partial') {
        resume = { at: state.claim.at!, hash: state.claim.hash, committedDirs: state.committedDirs, previous: state.claim }
        record.objects = (state.claim.objects ?? []).filter((o) => state.committedDirs.has(o.dir))
      }
      // Two requests (any instances) racing for the key: one creates this generation, the other waits.
      if (!await createClaim(this.storage, topic, scope, record)) return { kind: 'inflight' }
      const claim = new KeyClaim(this, topic, scope, record, resume)
      this.#unwritten.delete(id)
      this.#local.set(id, claim)
      this.#arm()
      return { kind: 'claimed', claim }
    } catch (err) {
      // Storage still failing after its retries: 503 with Retry-After, like an unkeyed request.
      throw storageFault(err)
    } finally {
      if (this.#local.get(id) === null) this.#local.delete(id)
    }
  }

  /** @internal A claim left flight: committed (`record`) or released (null). */
  settle (claim: KeyClaim, record: ClaimRecord | null): void {
    const id = `${claim.topic}/${claim.scope}`
    if (this.#local.get(id) === claim) this.#local.delete(id)
    if (record !== null) this.#remember(id, record)
  }

  /** @internal A claim was released but its record could not be written. */
  unwrittenRelease (claim: KeyClaim): void {
    this.#unwritten.set(`${claim.topic}/${claim.scope}`, claim.record.gen)
    while (this.#unwritten.size > (this.#o.cacheEntries ?? 10_000)) this.#unwritten.delete(this.#unwritten.keys().next().value!)
  }

  /** @internal */
  warn (obj: object, msg: string): void {
    this.#o.log?.warn(obj, msg)
  }

  get inFlight (): number { return this.#local.size }

  close (): void {
    this.#closed = true
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer)
    this.#timer = null
  }

  #remember (id: string, record: ClaimRecord): void {
    this.#done.delete(id)
    this.#done.set(id, record)
    const max = this.#o.cacheEntries ?? 10_000
    while (this.#done.size > max) this.#done.delete(this.#done.keys().next().value!)
  }

  /** Lease renewals run while this instance holds a key. */
  #arm (): void {
    if (this.#timer !== null || this.#closed) return
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null
      const now = this.#now()
      for (const c of this.#local.values()) c?.renewIfDue(now, this.#o.leaseMs)
      if (this.#local.size > 0) this.#arm()
    }, Math.max(100, Math.floor(this.#o.leaseMs / 6)))
    ;(this.#timer as { unref?: () => void }).unref?.()
  }
}
