import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createLocalIssuer, loadOrCreateLocalKeys } from '../auth/local-keys.ts'
import type { Role } from '../auth/types.ts'

export interface TokenOptions {
  dataDir: string
  scopePrefix: string
  ttlSeconds: number
  /** Only this role's token, bare (for `export QUIVER_TOKEN=$(quiver token --role write)`). */
  role: Role | null
}

const SUBJECTS: Record<Role, string> = { admin: 'local-admin', write: 'local-writer', read: 'local-reader' }

/**
 * Mints tokens with the `local` provider's key, read from DATA_DIR like the gateway does. Works
 * only on the machine (and directory) where the gateway keeps its data: whoever can read that key
 * can mint any token, which is the local provider's trust model.
 */
export function mintLocalTokens (opts: TokenOptions): string[] {
  const keyFile = join(opts.dataDir, '.quiver', 'local-jwk.json')
  if (!existsSync(keyFile)) {
    throw new Error(`no local signing key at ${resolve(keyFile)}: start the gateway once with AUTH_PROVIDERS=local and the same DATA_DIR (or pass --data-dir)`)
  }
  const issuer = createLocalIssuer(loadOrCreateLocalKeys(opts.dataDir), opts.scopePrefix)
  const mint = (role: Role) => issuer.mint({ subject: SUBJECTS[role], roles: [role], ttlSeconds: opts.ttlSeconds })
  if (opts.role) return [mint(opts.role).token]
  return (['admin', 'write', 'read'] as Role[]).map((role) => {
    const { token, expiresAt } = mint(role)
    return `# ${role} (expires ${expiresAt})\nQUIVER_${role.toUpperCase()}_TOKEN=${token}`
  })
}
