import type { Storage } from '../storage/types.ts'
import { readFooter, ObjectGoneError, type FooterInfo } from './footer.ts'
import { isQuiverObjectKey } from './layout.ts'
import { decodeTime } from '../keys.ts'

export interface CommittedFile {
  key: string
  bytes: number
  rows: number
  createdAt: string
  /** The createdAt of the topic it was written for (its footer), when it says. */
  topicCreatedAt?: string
  /** Set when the object cannot be read (0 bytes, not Parquet, cut short): listed, never read. */
  corrupt?: true
}

export interface CommittedSummary {
  rows: number
  bytes: number
  files: number
  lastFlushAt: string | null
}

export interface CommittedIndexOptions {
  log?: { warn: (obj: object, msg: string) => void }
  /** Called once per unreadable object found (a metric counts them). */
  onCorrupt?: (topic: string, key: string) => void
}

const silent = { warn () {} }

/**
 * The object was written for the topic created at `createdAt`, not for an earlier topic of the
 * same name (deleted, its objects kept): by its footer, or, for objects from before footers said
 * (no topicCreatedAt), by its id's time (objects are written after their topic was created).
 */
export function ofTopic (f: CommittedFile, createdAt: string): boolean {
  if (f.topicCreatedAt !== undefined) return f.topicCreatedAt === createdAt
  // An unreadable object says nothing: it stays listed (flagged corrupt), and is never read.
  if (f.corrupt === true) return true
  const id = f.key.slice(f.key.lastIndexOf('/') + 1, -'.parquet'.length)
  try {
    return decodeTime(id) >= Date.parse(createdAt)
  } catch {
    return true
  }
}

/**
 * What is committed per topic. Objects this process wrote are recorded as they commit; the rest
 * (earlier runs, other instances) is learnt from a listing plus each new object's footer, read with
 * ranged GETs. Only objects Quiver committed for the topic count: the key has Quiver's layout and
 * the footer names the topic (src/read/footer.ts); other files under the prefix are ignored, and
 * unreadable ones are flagged `corrupt` instead of failing the whole listing. Objects are
 * immutable, so what a footer said is cached for good (keyed by key and size).
 */
export class CommittedIndex {
  #storage: Storage
  #log: NonNullable<CommittedIndexOptions['log']>
  #onCorrupt: CommittedIndexOptions['onCorrupt']
  #topics = new Map<string, Map<string, CommittedFile>>()
  #footers = new Map<string, FooterInfo>()
  #refreshing = new Map<string, Promise<CommittedFile[]>>()

  constructor (storage: Storage, opts: CommittedIndexOptions = {}) {
    this.#storage = storage
    this.#log = opts.log ?? silent
    this.#onCorrupt = opts.onCorrupt
  }

  /** Topics this index holds state for. */
  trackedNames (): number {
    return this.#topics.size + this.#refreshing.size
  }

  add (topic: string, file: CommittedFile): void {
    this.#footers.set(`${file.key}#${file.bytes}`, { kind: 'ours', rows: file.rows, topicCreatedAt: file.topicCreatedAt })
    this.#filesOf(topic).set(file.key, file)
  }

  /** What is known without I/O (complete after the topic's first refresh); `createdAt`: of that topic only (ofTopic). */
  summary (topic: string, createdAt?: string): CommittedSummary {
    const s: CommittedSummary = { rows: 0, bytes: 0, files: 0, lastFlushAt: null }
    for (const f of this.#topics.get(topic)?.values() ?? []) {
      if (f.corrupt || (createdAt !== undefined && !ofTopic(f, createdAt))) continue
      s.rows += f.rows
      s.bytes += f.bytes
      s.files++
      if (s.lastFlushAt === null || f.createdAt > s.lastFlushAt) s.lastFlushAt = f.createdAt
    }
    return s
  }

  /** Lists the topic's objects in storage (sorted by key, i.e. by time) and updates the index. */
  refresh (topic: string): Promise<CommittedFile[]> {
    let p = this.#refreshing.get(topic)
    if (!p) {
      p = this.#list(topic).finally(() => this.#refreshing.delete(topic))
      this.#refreshing.set(topic, p)
    }
    return p
  }

  /** Marks an object found unreadable while its rows were read (footer fine, pages not). */
  markCorrupt (topic: string, key: string, reason: string): void {
    const f = this.#topics.get(topic)?.get(key)
    if (!f || f.corrupt) return
    this.#footers.set(`${key}#${f.bytes}`, { kind: 'corrupt', reason })
    f.corrupt = true
    this.#reportCorrupt(topic, key, reason)
  }

  async #footer (topic: string, key: string, bytes: number): Promise<FooterInfo | null> {
    const id = `${key}#${bytes}`
    let info = this.#footers.get(id)
    if (info) return info
    try {
      info = await readFooter(this.#storage, key, bytes, topic)
    } catch (err) {
      if (err instanceof ObjectGoneError) return null // deleted since the listing
      throw err
    }
    this.#footers.set(id, info)
    if (info.kind === 'corrupt') this.#reportCorrupt(topic, key, info.reason)
    if (info.kind === 'foreign') this.#log.warn({ topic, key, reason: info.reason }, 'object under the topic prefix was not written by Quiver for this topic; ignored')
    return info
  }

  #reportCorrupt (topic: string, key: string, reason: string): void {
    this.#log.warn({ topic, key, reason }, 'unreadable object skipped')
    this.#onCorrupt?.(topic, key)
  }

  async #list (topic: string): Promise<CommittedFile[]> {
    const before = new Set(this.#filesOf(topic).keys())
    const listed: CommittedFile[] = []
    for await (const o of this.#storage.list(`${topic}/`)) {
      if (!isQuiverObjectKey(topic, o.key)) continue
      const info = await this.#footer(topic, o.key, o.bytes)
      if (info === null || info.kind === 'foreign') continue
      const f: CommittedFile = { key: o.key, bytes: o.bytes, rows: info.kind === 'ours' ? info.rows : 0, createdAt: o.lastModified.toISOString() }
      if (info.kind === 'ours' && info.topicCreatedAt !== undefined) f.topicCreatedAt = info.topicCreatedAt
      if (info.kind === 'corrupt') f.corrupt = true
      listed.push(f)
    }
    const known = this.#filesOf(topic)
    const next = new Map<string, CommittedFile>()
    for (const f of listed) next.set(f.key, known.get(f.key) ?? f)
    // Keep what committed while the listing ran (it may not be in the LIST answer).
    for (const [k, f] of known) if (!next.has(k) && !before.has(k)) next.set(k, f)
    this.#topics.set(topic, next)
    return [...next.values()].sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  }

  #filesOf (topic: string): Map<string, CommittedFile> {
    let m = this.#topics.get(topic)
    if (!m) { m = new Map(); this.#topics.set(topic, m) }
    return m
  }
}
