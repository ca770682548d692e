export type Role = 'read' | 'write' | 'admin'

export const ROLES: readonly Role[] = ['read', 'write', 'admin']

/** Who is calling, derived from a verified token by src/auth/policy.ts. Never holds the token. */
export interface Principal {
  sub: string
  username: string
  /** 'access' | 'id' for Cognito, 'oidc' | 'local' for the other providers */
  tokenUse: string
  groups: string[]
  scopes: string[]
  roles: Role[]
  /** which configured provider verified it */
  provider: 'cognito' | 'oidc' | 'local'
  /** seconds since epoch; WebSocket connections close with 1008 when it passes */
  exp?: number
  /** A local token's `jti`: WebSocket connections close with 1008 when it is revoked */
  jti?: string
}
