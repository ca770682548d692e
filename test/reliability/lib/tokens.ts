import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalIssuer, loadOrCreateLocalKeys, type LocalIssuer } from '../../../src/auth/local-keys.ts'
import type { Role } from '../../../src/auth/types.ts'

/**
 * A DATA_DIR holding the local provider's signing key before a gateway process starts, so the
 * test can mint tokens that gateway accepts (the same key file it would create itself).
 */
export function preparedDataDir (t: { teardown: (fn: () => unknown) => void }): { dataDir: string, issuer: LocalIssuer, token: (roles: Role[], subject?: string, ttlSeconds?: number) => string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'quiver-rel-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const issuer = createLocalIssuer(loadOrCreateLocalKeys(dataDir), 'boilstream')
  return { dataDir, issuer, token: (roles, subject = `rel-${roles.join('-')}`, ttlSeconds = 3600) => issuer.mint({ subject, roles, ttlSeconds }).token }
}
