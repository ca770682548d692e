import type { Storage } from './storage/types.ts'
import { TOPIC_NAME_PATTERN, type TopicRecord } from './schema/topic-schema.ts'
import { InvalidTopicNameError, TopicExistsError } from './errors.ts'

export interface Catalog {
  /** Stores a new topic; TopicExistsError when the name is taken, also by another gateway instance. */
  create (record: TopicRecord): Promise<TopicRecord>
  get (name: string): Promise<TopicRecord | null>
  list (): Promise<TopicRecord[]>
  /** Removes the topic from the catalog (its Parquet objects stay); false when it did not exist. */
  delete (name: string): Promise<boolean>
}

export interface CatalogOptions {
  /** How long a lookup (hit or miss) is trusted; other instances' changes show up after at most this. */
  ttlMs?: number
  now?: () => number
}

export const CATALOG_PREFIX = '_catalog/'
const NAME = new RegExp(TOPIC_NAME_PATTERN)
const keyOf = (name: string) => `${CATALOG_PREFIX}${name}.json`

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function parse (bytes: Uint8Array): TopicRecord {
  const r = JSON.parse(decoder.decode(bytes)) as TopicRecord
  return { name: r.name, schema: r.schema, createdAt: r.createdAt }
}

/**
 * The topic catalog, kept in the same storage as the data (`_catalog/{topic}.json`) so every
 * gateway instance sees one catalog. `get` sits on the ingest hot path, hence the short cache;
 * the cache holds promises so concurrent lookups of one topic share one read.
 */
const MISS_TTL_MS = 100

export function createCatalog (storage: Storage, opts: CatalogOptions = {}): Catalog {
  const ttlMs = opts.ttlMs ?? 2000
  const now = opts.now ?? Date.now
  const cache = new Map<string, { expires: number, value: Promise<TopicRecord | null> }>()

  function read (name: string): Promise<TopicRecord | null> {
    const hit = cache.get(name)
    if (hit && hit.expires > now()) return hit.value
    const value = storage.get(keyOf(name)).then((b) => (b ? parse(b) : null))
    cache.set(name, { expires: now() + ttlMs, value })
    value.then((v) => {
      // A miss is kept only briefly: a topic another instance is creating right now must show up soon.
      const entry = cache.get(name)
      if (v === null && entry?.value === value) entry.expires = Math.min(entry.expires, now() + MISS_TTL_MS)
    }, () => { if (cache.get(name)?.value === value) cache.delete(name) })
    return value
  }

  return {
    async create (record) {
      if (!NAME.test(record.name)) throw new InvalidTopicNameError(record.name)
      const stored: TopicRecord = { name: record.name, schema: record.schema, createdAt: record.createdAt }
      cache.delete(record.name)
      const created = await storage.createExclusive(keyOf(record.name), encoder.encode(JSON.stringify(stored)))
      if (!created) {
        cache.delete(record.name)
        throw new TopicExistsError(record.name)
      }
      cache.set(record.name, { expires: now() + ttlMs, value: Promise.resolve(stored) })
      return stored
    },
    async get (name) {
      if (!NAME.test(name)) return null
      return await read(name)
    },
    async list () {
      const names: string[] = []
      for await (const o of storage.list(CATALOG_PREFIX)) {
        const m = /^_catalog\/([^/]+)\.json$/.exec(o.key)
        if (m && NAME.test(m[1])) names.push(m[1])
      }
      const records = await Promise.all(names.map((n) => storage.get(keyOf(n)).then((b) => (b ? parse(b) : null))))
      return records.filter((r): r is TopicRecord => r !== null).sort((a, b) => (a.name < b.name ? -1 : 1))
    },
    async delete (name) {
      if (!NAME.test(name)) return false
      cache.delete(name)
      const existed = (await storage.get(keyOf(name))) !== null
      if (existed) await storage.delete(keyOf(name))
      cache.delete(name)
      return existed
    }
  }
}
