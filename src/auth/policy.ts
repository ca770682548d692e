import type { Config } from '../../config/schema.ts'
import { splitList } from '../../config/load.ts'
import { ROLES, type Principal, type Role } from './types.ts'

/** What the role mapping needs from configuration, resolved once at startup. */
export interface Policy {
  groups: Record<Role, ReadonlySet<string>>
  scopePrefix: string
  requiredScopes: Record<Role, readonly string[]>
}

export type Decision =
  | { ok: true }
  | { ok: false, error: 'forbidden', role: Role }
  | { ok: false, error: 'missing-scope', role: Role, missing: string[] }

export function createPolicy (config: Pick<Config, 'ADMIN_GROUPS' | 'WRITE_GROUPS' | 'READ_ONLY_GROUPS' | 'SCOPE_PREFIX' | 'REQUIRED_READ_SCOPES' | 'REQUIRED_WRITE_SCOPES' | 'REQUIRED_ADMIN_SCOPES'>): Policy {
  return {
    groups: {
      admin: new Set(splitList(config.ADMIN_GROUPS)),
      write: new Set(splitList(config.WRITE_GROUPS)),
      read: new Set(splitList(config.READ_ONLY_GROUPS))
    },
    scopePrefix: config.SCOPE_PREFIX,
    requiredScopes: {
      admin: splitList(config.REQUIRED_ADMIN_SCOPES),
      write: splitList(config.REQUIRED_WRITE_SCOPES),
      read: splitList(config.REQUIRED_READ_SCOPES)
    }
  }
}

const RANK: Record<Role, number> = { read: 0, write: 1, admin: 2 }

/** admin ⊇ write ⊇ read: a granted role brings every role below it. Always in ROLES order. */
export function expandRoles (granted: Iterable<Role>): Role[] {
  let top = -1
  for (const r of granted) top = Math.max(top, RANK[r])
  return ROLES.filter((r) => RANK[r] <= top)
}

/** Roles are the union of what the groups and the scopes grant. */
export function rolesFor (policy: Policy, groups: readonly string[], scopes: readonly string[]): Role[] {
  const granted: Role[] = []
  for (const role of ROLES) {
    if (groups.some((g) => policy.groups[role].has(g))) granted.push(role)
    // `prefix:role` is the plain OAuth form, `prefix/role` what a Cognito resource server issues.
    if (scopes.includes(`${policy.scopePrefix}:${role}`) || scopes.includes(`${policy.scopePrefix}/${role}`)) granted.push(role)
  }
  return expandRoles(granted)
}

/** A claim holding a list: a JSON array, or a space- or comma-separated string. */
export function claimList (value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '')
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean)
  return []
}

/** Reads `a.b.c` paths too, for providers that nest roles (Keycloak's `realm_access.roles`). */
export function readClaim (claims: Record<string, unknown>, name: string): unknown {
  if (name in claims) return claims[name]
  let cur: unknown = claims
  for (const part of name.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

export interface PrincipalSource {
  provider: Principal['provider']
  tokenUse: string
  groupsClaim: string
}

/** Verified claims → Principal. Pure; the token itself is never kept. */
export function toPrincipal (policy: Policy, claims: Record<string, unknown>, source: PrincipalSource): Principal {
  const groups = claimList(readClaim(claims, source.groupsClaim))
  // `scp` is where Okta and Entra put scopes; everyone else uses `scope`.
  const scopes = [...new Set([...claimList(claims.scope), ...claimList(claims.scp)])]
  const sub = typeof claims.sub === 'string' ? claims.sub : ''
  const username = firstString(claims.username, claims['cognito:username'], claims.preferred_username, claims.email) ?? sub
  const principal: Principal = {
    sub,
    username,
    tokenUse: source.tokenUse,
    groups,
    scopes,
    roles: rolesFor(policy, groups, scopes),
    provider: source.provider
  }
  if (typeof claims.exp === 'number') principal.exp = claims.exp
  // Only the local provider's tokens can be revoked (src/auth/revocations.ts).
  if (source.provider === 'local' && typeof claims.jti === 'string') principal.jti = claims.jti
  return principal
}

/** Role first, then the scopes the operation's level needs (usually `policy.requiredScopes[role]`). */
const ALLOWED: Decision = { ok: true }

export function authorize (principal: Principal, role: Role, requiredScopes: readonly string[] = []): Decision {
  if (!principal.roles.includes(role)) return { ok: false, error: 'forbidden', role }
  if (requiredScopes.length === 0) return ALLOWED
  const missing = requiredScopes.filter((s) => !principal.scopes.includes(s))
  if (missing.length > 0) return { ok: false, error: 'missing-scope', role, missing }
  return ALLOWED
}

function firstString (...values: unknown[]): string | undefined {
  for (const v of values) if (typeof v === 'string' && v !== '') return v
  return undefined
}
