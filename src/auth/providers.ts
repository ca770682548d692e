import type { Config } from '../../config/schema.ts'
import { splitList } from '../../config/load.ts'
import type { Principal } from './types.ts'
import { claimList } from './policy.ts'
import { createRemoteKeyStore, createStaticKeyStore, type JwksDispatcher, type KeyStore } from './jwks.ts'
import type { LocalIssuer } from './local-keys.ts'
import { TokenRejectedError } from './rejection.ts'

/** One configured identity provider: where its keys come from and what its claims must say. */
export interface Provider {
  name: Principal['provider']
  issuer: string
  /** App clients / audiences a token must name; empty: any. Shown in the startup line. */
  audiences: string[]
  keys: KeyStore
  groupsClaim: string
  /** Provider-specific claim rules after the signature and times are good; returns tokenUse. */
  checkClaims (payload: Record<string, unknown>): string
}

export function cognitoIssuer (config: Pick<Config, 'COGNITO_ENDPOINT' | 'COGNITO_REGION' | 'COGNITO_USER_POOL_ID'>): string {
  const base = (config.COGNITO_ENDPOINT || `https://cognito-idp.${config.COGNITO_REGION}.amazonaws.com`).replace(/\/+$/, '')
  return `${base}/${config.COGNITO_USER_POOL_ID}`
}

export function createCognitoProvider (config: Config, dispatcher: JwksDispatcher, ttlMs: number): Provider {
  const issuer = cognitoIssuer(config)
  const audiences = new Set(splitList(config.COGNITO_AUDIENCE))
  return {
    name: 'cognito',
    issuer,
    audiences: [...audiences],
    // The JWKS location is fixed by the pool; never discovered, never taken from a token.
    keys: createRemoteKeyStore({ issuer, jwksPath: '.well-known/jwks.json', dispatcher, ttlMs }),
    groupsClaim: 'cognito:groups',
    checkClaims (payload) {
      const use = payload.token_use
      // Refresh tokens are opaque in Cognito, but anything else claiming a use is refused too.
      if (use !== 'access' && use !== 'id') throw new TokenRejectedError('token_use', JSON.stringify(use) ?? 'missing')
      if (config.COGNITO_TOKEN_USE !== 'any' && use !== config.COGNITO_TOKEN_USE) throw new TokenRejectedError('token_use', use)
      if (audiences.size > 0) {
        // Access tokens name their app client in client_id and carry no aud; id tokens use aud.
        const ids = use === 'access' ? claimList(payload.client_id) : claimList(payload.aud)
        if (!ids.some((id) => audiences.has(id))) throw new TokenRejectedError('audience', `${use} token for another client`)
      }
      return use
    }
  }
}

export function createOidcProvider (config: Config, dispatcher: JwksDispatcher, ttlMs: number): Provider {
  const issuer = config.OIDC_ISSUER
  const audiences = new Set(splitList(config.OIDC_AUDIENCE))
  return {
    name: 'oidc',
    issuer,
    audiences: [...audiences],
    keys: createRemoteKeyStore({ issuer, dispatcher, ttlMs }),
    groupsClaim: config.OIDC_GROUPS_CLAIM,
    checkClaims (payload) {
      if (audiences.size > 0 && !claimList(payload.aud).some((a) => audiences.has(a))) {
        throw new TokenRejectedError('audience', 'aud not accepted')
      }
      return 'oidc'
    }
  }
}

export function createLocalProvider (local: LocalIssuer): Provider {
  return {
    name: 'local',
    issuer: local.issuer,
    audiences: [],
    keys: createStaticKeyStore(local.issuer, { [local.keys.kid]: local.keys.publicPem }),
    groupsClaim: 'groups',
    checkClaims (payload) {
      if (payload.token_use !== 'local') throw new TokenRejectedError('token_use', JSON.stringify(payload.token_use) ?? 'missing')
      return 'local'
    }
  }
}

/**
 * The startup line's text: every active provider with its issuer and accepted audiences, so a
 * wrong pool, region or COGNITO_ENDPOINT shows before the first token does. Never a token.
 */
export function describeProviders (providers: Provider[]): string {
  const parts = providers.map((p) => `${p.name} (issuer ${p.issuer}, audiences ${p.audiences.length > 0 ? p.audiences.join(',') : 'any'})`)
  // Configuration refuses an empty AUTH_PROVIDERS, so there is always at least one.
  return `auth: active providers ${parts.join('; ')}`
}
