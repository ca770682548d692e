import { StorageFailingError, StorageUnavailableError } from '../errors.ts'
import type { Catalog } from '../catalog.ts'

/** True for the errors of src/errors.ts (they carry a stable `QUIVER_*` code and a status). */
export function isQuiverError (err: unknown): err is Error & { code: string, statusCode: number } {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('QUIVER_')
}

/**
 * An error met while storage was read or written (its SDK or fs error inside) as the 503 it means:
 * for an ingest, that its data was not committed (StorageUnavailableError); otherwise (`ingest`
 * false: reads, topics, tokens) only that storage is failing.
 */
export function storageFault (err: unknown, ingest = true): Error {
  if (isQuiverError(err)) return err
  return Object.assign(ingest ? new StorageUnavailableError() : new StorageFailingError(), { cause: err })
}

/** Storage that is still failing after its retries answers 503 (with Retry-After), not 500; for the routes that are not an ingest. */
export async function guarded<T> (p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (err) {
    throw storageFault(err, false)
  }
}

/** The catalog with storage failures turned into StorageFailingError (the routes that are not an ingest). */
export function guardedCatalog (c: Catalog): Catalog {
  return {
    create: (r) => guarded(c.create(r)),
    get: (n) => guarded(c.get(n)),
    list: () => guarded(c.list()),
    delete: (n) => guarded(c.delete(n)),
    evolve: (n, change) => guarded(c.evolve(n, change)),
    versions: (n) => guarded(c.versions(n)),
    cachedNames: () => c.cachedNames()
  }
}
