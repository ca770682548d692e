import { StorageUnavailableError } from '../errors.ts'
import type { Catalog } from '../catalog.ts'

function isQuiverError (err: unknown): boolean {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'string' && code.startsWith('QUIVER_')
}

/** Storage that is still failing after its retries answers 503 (with Retry-After), not 500. */
export async function guarded<T> (p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (err) {
    if (isQuiverError(err)) throw err
    throw Object.assign(new StorageUnavailableError(), { cause: err })
  }
}

/** The catalog with storage failures turned into StorageUnavailableError. */
export function guardedCatalog (c: Catalog): Catalog {
  return {
    create: (r) => guarded(c.create(r)),
    get: (n) => guarded(c.get(n)),
    list: () => guarded(c.list()),
    delete: (n) => guarded(c.delete(n))
  }
}
