import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createLocalIssuer, loadOrCreateLocalKeys } from '../auth/local-keys.ts'
import type { MintRecord } from '../auth/revocations.ts'
import type { Role } from '../auth/types.ts'

export interface TokenOptions {
  dataDir: string
  scopePrefix: string
  ttlSeconds: number
  /** Only this role's token, bare (for `export QUIVER_TOKEN=$(quiver token --role write)`). */
  role: Role | null
  /**
   * Records each token as minted in the gateway's storage before it is printed, the way
   * POST /v1/admin/tokens does, so DELETE /v1/admin/tokens/{jti} can revoke it.
   */
  record: (r: MintRecord) => Promise<void>
}

const SUBJECTS: Record<Role, string> = { admin: 'local-admin', write: 'local-writer', read: 'local-reader' }

/**
 * Mints tokens with the `local` provider's key, read from DATA_DIR like the gateway does. Works
 * only on the machine (and directory) where the gateway keeps its data: whoever can read that key
 * can mint any token, which is the local provider's trust model. Rejects (printing nothing) when a
 * record could not be written: a token no one could revoke is not handed out.
 */
export async function mintLocalTokens (opts: TokenOptions): Promise<string[]> {
  const keyFile = join(opts.dataDir, '.quiver', 'local-jwk.json')
  if (!existsSync(keyFile)) {
    throw new Error(`no local signing key at ${resolve(keyFile)}: start the gateway once with AUTH_PROVIDERS=local and the same DATA_DIR (or pass --data-dir)`)
  }
  const issuer = createLocalIssuer(loadOrCreateLocalKeys(opts.dataDir), opts.scopePrefix)
  const roles: Role[] = opts.role ? [opts.role] : ['admin', 'write', 'read']
  const minted = roles.map((role) => ({ role, ...issuer.mint({ subject: SUBJECTS[role], roles: [role], ttlSeconds: opts.ttlSeconds }) }))
  const mintedAt = new Date().toISOString()
  await Promise.all(minted.map((m) => opts.record({ jti: m.jti, sub: m.subject, roles: [m.role], exp: Math.floor(Date.parse(m.expiresAt) / 1000), mintedAt })))
  if (opts.role) return [minted[0].token]
  return minted.map(({ role, token, expiresAt, jti }) => `# ${role} (expires ${expiresAt}; revoke with DELETE /v1/admin/tokens/${jti})\nQUIVER_${role.toUpperCase()}_TOKEN=${token}`)
}
