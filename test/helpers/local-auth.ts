import { createLocalIssuer, loadOrCreateLocalKeys } from '../../src/auth/local-keys.ts'
import type { Role } from '../../src/auth/types.ts'

/**
 * A token from the local provider of an app built on `dataDir` (the app's decorators live in
 * an encapsulated context, so tests sign with the key file the app persisted there).
 */
export function localToken (dataDir: string, roles: Role[], opts: { subject?: string, ttlSeconds?: number, scopePrefix?: string } = {}): string {
  const issuer = createLocalIssuer(loadOrCreateLocalKeys(dataDir), opts.scopePrefix ?? 'boilstream')
  return issuer.mint({ subject: opts.subject ?? `test-${roles.join('-')}`, roles, ttlSeconds: opts.ttlSeconds ?? 600 }).token
}
