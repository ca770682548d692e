import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type JsonWebKey } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createSigner } from 'fast-jwt'
import { ROLES, type Role } from './types.ts'
import { expandRoles } from './policy.ts'

export const LOCAL_ISSUER = 'quiver-local'
export const MAX_LOCAL_TTL_SECONDS = 365 * 24 * 3600

export interface LocalKeys {
  kid: string
  privatePem: string
  publicPem: string
  /** The public half as published at /.well-known/jwks.json. */
  publicJwk: JsonWebKey & { kid: string, alg: 'RS256', use: 'sig' }
}

export interface MintRequest { subject: string, roles: Role[], ttlSeconds: number }
export interface MintedToken { token: string, expiresAt: string }

export interface LocalIssuer {
  issuer: string
  keys: LocalKeys
  jwks (): { keys: Array<LocalKeys['publicJwk']> }
  mint (req: MintRequest): MintedToken
}

/**
 * The local provider's signing key: generated on first start, then reused so tokens outlive
 * restarts. Only the owner may read it (0600).
 */
export function loadOrCreateLocalKeys (dataDir: string): LocalKeys {
  const dir = join(dataDir, '.quiver')
  const file = join(dir, 'local-jwk.json')
  let stored: { kid: string, privateJwk: JsonWebKey } | undefined
  try {
    stored = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read the local signing key ${file}: ${(err as Error).message}`)
  }
  if (!stored) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    stored = { kid: `quiver-${randomUUID().slice(0, 8)}`, privateJwk: privateKey.export({ format: 'jwk' }) }
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    try {
      // 'wx': when two instances start at once on one DATA_DIR, the first key written wins.
      writeFileSync(file, JSON.stringify(stored), { mode: 0o600, flag: 'wx' })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      stored = JSON.parse(readFileSync(file, 'utf8')) as { kid: string, privateJwk: JsonWebKey }
    }
  }
  const privateKey = createPrivateKey({ key: stored.privateJwk, format: 'jwk' })
  const publicKey = createPublicKey(privateKey)
  const { n, e, kty } = publicKey.export({ format: 'jwk' })
  return {
    kid: stored.kid,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicJwk: { kty, n, e, kid: stored.kid, alg: 'RS256', use: 'sig' }
  }
}

/** Mints RS256 tokens whose roles ride in `scope` as `{prefix}:{role}`, so the normal policy maps them. */
export function createLocalIssuer (keys: LocalKeys, scopePrefix: string, now: () => number = Date.now): LocalIssuer {
  const sign = createSigner({ key: keys.privatePem, algorithm: 'RS256', kid: keys.kid })
  return {
    issuer: LOCAL_ISSUER,
    keys,
    jwks: () => ({ keys: [keys.publicJwk] }),
    mint ({ subject, roles, ttlSeconds }) {
      if (typeof subject !== 'string' || subject.trim() === '') throw new TypeError('subject must be a non-empty string')
      if (!Array.isArray(roles) || roles.length === 0 || roles.some((r) => !ROLES.includes(r))) throw new TypeError('roles must list read, write or admin')
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_LOCAL_TTL_SECONDS) throw new TypeError(`ttlSeconds must be an integer from 1 to ${MAX_LOCAL_TTL_SECONDS}`)
      const iat = Math.floor(now() / 1000)
      const exp = iat + ttlSeconds
      const token = sign({
        iss: LOCAL_ISSUER,
        sub: subject,
        username: subject,
        token_use: 'local',
        scope: expandRoles(roles).map((r) => `${scopePrefix}:${r}`).join(' '),
        iat,
        exp,
        jti: randomUUID()
      })
      return { token, expiresAt: new Date(exp * 1000).toISOString() }
    }
  }
}
