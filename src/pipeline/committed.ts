import type { Storage } from '../storage/types.ts'

export interface CommittedFile {
  key: string
  bytes: number
  rows: number
  createdAt: string
}

export interface CommittedSummary {
  rows: number
  bytes: number
  files: number
  lastFlushAt: string | null
}

/** Row count from a Parquet footer (num_rows of FileMetaData). */
export async function parquetRows (bytes: Uint8Array): Promise<number> {
  // Loaded on first use: compiling the wasm module costs startup time the ingest path never needs.
  const { ParquetFile } = await import('parquet-wasm')
  const file = await ParquetFile.fromFile(new Blob([bytes as Uint8Array<ArrayBuffer>]))
  try {
    return Number(file.metadata().fileMetadata().numRows())
  } finally {
    file.free()
  }
}

/**
 * What is committed per topic. Objects this process wrote are recorded as they commit; the rest
 * (earlier runs, other instances) is learnt from a listing. Objects are immutable, so a row count
 * read from a footer once is cached for good and a listing costs one LIST plus footers of new keys.
 */
export class CommittedIndex {
  #storage: Storage
  #topics = new Map<string, Map<string, CommittedFile>>()
  #rows = new Map<string, number>()
  #refreshing = new Map<string, Promise<CommittedFile[]>>()

  constructor (storage: Storage) {
    this.#storage = storage
  }

  add (topic: string, file: CommittedFile): void {
    this.#rows.set(file.key, file.rows)
    this.#filesOf(topic).set(file.key, file)
  }

  /** What is known without I/O (complete after the topic's first refresh). */
  summary (topic: string): CommittedSummary {
    const s: CommittedSummary = { rows: 0, bytes: 0, files: 0, lastFlushAt: null }
    for (const f of this.#topics.get(topic)?.values() ?? []) {
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

  async #list (topic: string): Promise<CommittedFile[]> {
    const before = new Set(this.#filesOf(topic).keys())
    const listed: CommittedFile[] = []
    for await (const o of this.#storage.list(`${topic}/`)) {
      if (!o.key.endsWith('.parquet')) continue
      listed.push({ key: o.key, bytes: o.bytes, rows: this.#rows.get(o.key) ?? -1, createdAt: o.lastModified.toISOString() })
    }
    for (const f of listed) {
      if (f.rows >= 0) continue
      const body = await this.#storage.get(f.key)
      f.rows = body ? await parquetRows(body) : 0
      this.#rows.set(f.key, f.rows)
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
