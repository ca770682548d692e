import type { Storage } from './storage/types.ts'
import { TOPIC_NAME_PATTERN, type Evolution, type TopicRecord, type TopicSchema } from './schema/topic-schema.ts'
import { InvalidTopicNameError, SchemaConflictError, TopicExistsError, TopicNotFoundError } from './errors.ts'
import { baseKey, CATALOG_PREFIX, incarnationPrefix, storedVersions, versionKey } from './catalog/versions.ts'

export { CATALOG_PREFIX } from './catalog/versions.ts'

/** A schema change: the schema to store as the next version, or null when `latest` needs none. */
export type SchemaChange = (latest: TopicRecord) => TopicSchema | null

export interface Catalog {
  /** Stores a new topic; TopicExistsError when the name is taken, also by another gateway instance. */
  create (record: TopicRecord): Promise<TopicRecord>
  /** The topic at its latest schema version (`schemaVersion`, `evolution` always set). */
  get (name: string): Promise<TopicRecord | null>
  list (): Promise<TopicRecord[]>
  /** Removes the topic from the catalog (its Parquet objects stay); false when it did not exist. */
  delete (name: string): Promise<boolean>
  /**
   * Writes the topic's next schema version (schema evolution) with an exclusive create, so gateways
   * evolving one topic at once each write a different version. `change` is called with the
   * latest version read from storage, again after every lost race, and its throw is the answer.
   * @throws TopicNotFoundError, SchemaConflictError (503) when the races are not won in time
   */
  evolve (name: string, change: SchemaChange): Promise<TopicRecord>
  /** Every stored version, oldest first ([] for an unknown topic). */
  versions (name: string): Promise<TopicRecord[]>
  /** Names the lookup cache holds right now (bounded: misses leave it, see MISS_TTL_MS). */
  cachedNames (): number
}

export interface CatalogOptions {
  /** How long a lookup (hit or miss) is trusted; other instances' changes show up after at most this. */
  ttlMs?: number
  now?: () => number
  /** AUTO_EVOLVE_TOPICS: the `evolution` of topics created without one (default true: additive). */
  autoEvolve?: boolean
  /** Lost version races retried before SchemaConflictError (default 40, ~6 s of backoff). */
  evolveAttempts?: number
}

const NAME = new RegExp(TOPIC_NAME_PATTERN)
const encoder = new TextEncoder()
const decoder = new TextDecoder()
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The fields a stored record may carry; anything else in the JSON is ignored. */
function parse (bytes: Uint8Array): TopicRecord {
  const r = JSON.parse(decoder.decode(bytes)) as TopicRecord
  const out: TopicRecord = { name: r.name, schema: r.schema, createdAt: r.createdAt }
  // The partition spec is kept only when the topic was created with one (readers apply the defaults, lake/partition-spec.ts).
  if (r.partitionBy !== undefined || r.timePartition !== undefined) Object.assign(out, { partitionBy: r.partitionBy, timePartition: r.timePartition })
  if (r.evolution !== undefined) out.evolution = r.evolution
  if (r.schemaVersion !== undefined) out.schemaVersion = r.schemaVersion
  if (r.evolvedAt !== undefined) out.evolvedAt = r.evolvedAt
  return out
}

/** A topic as stored: the record it was created with and its latest version. */
interface Stored { base: TopicRecord, latest: TopicRecord, version: number }

/**
 * The topic catalog, kept in the same storage as the data (`_catalog/{topic}.json` plus one object
 * per later schema version, src/catalog/versions.ts) so every gateway instance sees one catalog.
 * `get` sits on the ingest hot path, hence the short cache; the cache holds promises so
 * concurrent lookups of one topic share one read.
 */
const MISS_TTL_MS = 100

export function createCatalog (storage: Storage, opts: CatalogOptions = {}): Catalog {
  const ttlMs = opts.ttlMs ?? 2000
  const now = opts.now ?? Date.now
  const defaultEvolution: Evolution = opts.autoEvolve === false ? 'none' : 'additive'
  const attempts = opts.evolveAttempts ?? 40
  const cache = new Map<string, { expires: number, value: Promise<TopicRecord | null> }>()

  const shown = (s: Stored): TopicRecord => ({ ...s.latest, schemaVersion: s.version, evolution: s.base.evolution ?? defaultEvolution })

  async function load (name: string): Promise<Stored | null> {
    const bytes = await storage.get(baseKey(name))
    if (bytes === null) return null
    const base = parse(bytes)
    const versions = await storedVersions(storage, base)
    // Newest first: a version removed meanwhile (the topic is being deleted) falls back to the one before.
    for (let i = versions.length - 1; i >= 0; i--) {
      const b = await storage.get(versions[i].key)
      if (b !== null) return { base, latest: parse(b), version: versions[i].version }
    }
    return { base, latest: base, version: 1 }
  }

  const remember = (name: string, value: TopicRecord | null) => cache.set(name, { expires: now() + ttlMs, value: Promise.resolve(value) })

  function read (name: string): Promise<TopicRecord | null> {
    const hit = cache.get(name)
    if (hit && hit.expires > now()) return hit.value
    const value = load(name).then((s) => (s ? shown(s) : null))
    cache.set(name, { expires: now() + ttlMs, value })
    value.then((v) => {
      // A miss is kept only briefly: a topic another instance is creating right now must show up soon.
      // It then leaves the map, so lookups of made-up names (any reader can send them) keep no state.
      const entry = cache.get(name)
      if (v === null && entry?.value === value) {
        entry.expires = Math.min(entry.expires, now() + MISS_TTL_MS)
        // Eviction follows the injected clock: the timer only looks, so a test clock that stands still keeps the miss.
        setTimeout(() => { if (cache.get(name) === entry && entry.expires <= now()) cache.delete(name) }, MISS_TTL_MS + 1).unref()
      }
    }, () => { if (cache.get(name)?.value === value) cache.delete(name) })
    return value
  }

  return {
    async create (record) {
      if (!NAME.test(record.name)) throw new InvalidTopicNameError(record.name)
      // What a created topic stores: never a version or evolution time (it is version 1).
      const { schemaVersion: _v, evolvedAt: _at, ...stored } = record
      cache.delete(record.name)
      const created = await storage.createExclusive(baseKey(record.name), encoder.encode(JSON.stringify(stored)))
      if (!created) {
        cache.delete(record.name)
        throw new TopicExistsError(record.name)
      }
      remember(record.name, shown({ base: stored, latest: stored, version: 1 }))
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
      const records = await Promise.all(names.map((n) => load(n).then((s) => (s ? shown(s) : null))))
      return records.filter((r): r is TopicRecord => r !== null).sort((a, b) => (a.name < b.name ? -1 : 1))
    },
    async evolve (name, change) {
      if (!NAME.test(name)) throw new TopicNotFoundError(name)
      for (let attempt = 0; ; attempt++) {
        const s = await load(name)
        if (s === null) {
          cache.delete(name)
          throw new TopicNotFoundError(name)
        }
        const latest = shown(s)
        const schema = change(latest)
        if (schema === null) {
          remember(name, latest)
          return latest
        }
        const version = s.version + 1
        const next: TopicRecord = { ...s.base, schema, schemaVersion: version, evolvedAt: new Date(now()).toISOString() }
        if (await storage.createExclusive(versionKey(s.base, version), encoder.encode(JSON.stringify(next)))) {
          const out = shown({ base: s.base, latest: next, version })
          remember(name, out)
          return out
        }
        // Another gateway wrote this version first (or is writing it: on S3 its claim is seen
        // before its object). Read again and apply the change on top of theirs.
        if (attempt + 1 >= attempts) throw new SchemaConflictError(name)
        await sleep(Math.min(250, 5 * 2 ** attempt) * (0.5 + Math.random()))
      }
    },
    async versions (name) {
      if (!NAME.test(name)) return []
      const bytes = await storage.get(baseKey(name))
      if (bytes === null) return []
      const base = parse(bytes)
      const out = [{ ...base, schemaVersion: 1 }]
      for (const v of await storedVersions(storage, base)) {
        const b = await storage.get(v.key)
        if (b !== null) out.push({ ...parse(b), schemaVersion: v.version })
      }
      return out.map((r) => ({ ...r, evolution: base.evolution ?? defaultEvolution }))
    },
    cachedNames: () => cache.size,
    async delete (name) {
      if (!NAME.test(name)) return false
      cache.delete(name)
      const bytes = await storage.get(baseKey(name))
      if (bytes !== null) {
        await storage.delete(baseKey(name))
        // After the record: a removal cut short leaves versions no later incarnation reads.
        for await (const o of storage.list(incarnationPrefix(parse(bytes)))) await storage.delete(o.key)
      }
      cache.delete(name)
      return bytes !== null
    }
  }
}
