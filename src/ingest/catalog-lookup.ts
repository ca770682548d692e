import type { Catalog } from '../catalog.ts'
import type { TopicLookup } from './validate-stream.ts'
import { CatalogTimeoutError } from '../errors.ts'
import { storageFault } from '../pipeline/guard.ts'

/**
 * The catalog as ingest sees it: storage faults become StorageUnavailableError (503), and a
 * lookup that storage leaves hanging gives up after `timeoutMs` (503 naming the wait), so a
 * request holding an admission reservation cannot hold it for as long as storage hangs.
 */
export function lookupWithin (catalog: Catalog, timeoutMs: number): TopicLookup {
  const within = async <T>(p: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new CatalogTimeoutError(timeoutMs)), timeoutMs)
    })
    try {
      return await Promise.race([p, expired])
    } catch (err) {
      throw storageFault(err)
    } finally {
      clearTimeout(timer)
    }
  }
  return {
    get: (name) => within(catalog.get(name)),
    create: (record) => within(catalog.create(record)),
    // A stream adding nullable fields evolves its topic (src/ingest/evolve-stream.ts).
    evolve: (name, change) => within(catalog.evolve(name, change))
  }
}
