import { createPrivateKey, createPublicKey, generateKeyPair, generateKeyPairSync, randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
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
export interface MintedToken { token: string, expiresAt: string, jti: string, subject: string }
/** Signs a payload with the local key (RS256, the key's kid): @fastify/jwt's signer in the gateway. */
export type SignFn = (payload: Record<string, unknown>) => string

export interface LocalIssuer {
  issuer: string
  keys: LocalKeys
  jwks (): { keys: Array<LocalKeys['publicJwk']> }
  mint (req: MintRequest): MintedToken
}

const keyFile = (dataDir: string): string => join(dataDir, '.quiver', 'local-jwk.json')
const pending = new Map<string, Promise<void>>()

/**
 * Starts generating the signing key on libuv's thread pool when DATA_DIR has none yet, so the
 * 2048-bit RSA generation (~0.5 s of CPU) overlaps the rest of the start-up on another core;
 * loadOrCreateLocalKeys then finds the file. Call it as early as possible, await it before
 * loadOrCreateLocalKeys. Never rejects: on failure loadOrCreateLocalKeys does the work itself.
 */
export function prepareLocalKeys (dataDir: string): Promise<void> {
  let p = pending.get(dataDir)
  if (p === undefined) {
    p = existsSync(keyFile(dataDir))
      ? Promise.resolve()
      : new Promise<KeyObject>((resolve, reject) => generateKeyPair('rsa', { modulusLength: 2048 }, (err, _pub, priv) => err ? reject(err) : resolve(priv)))
        .then((privateKey) => { storeKey(dataDir, privateKey) }, () => {})
        .catch(() => {})
    pending.set(dataDir, p)
  }
  return p
}

/** Writes a new key unless one is there already; returns the stored one. */
function storeKey (dataDir: string, privateKey: KeyObject): { kid: string, privateJwk: JsonWebKey } {
  const file = keyFile(dataDir)
  let stored = { kid: `quiver-${randomUUID().slice(0, 8)}`, privateJwk: privateKey.export({ format: 'jwk' }) }
  mkdirSync(join(dataDir, '.quiver'), { recursive: true, mode: 0o700 })
  try {
    // 'wx': when two instances start at once on one DATA_DIR, the first key written wins.
    writeFileSync(file, JSON.stringify(stored), { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    stored = JSON.parse(readFileSync(file, 'utf8')) as { kid: string, privateJwk: JsonWebKey }
  }
  return stored
}

/**
 * The local provider's signing key: generated on first start, then reused so tokens outlive
 * restarts. Only the owner may read it (0600).
 */
export function loadOrCreateLocalKeys (dataDir: string): LocalKeys {
  const file = keyFile(dataDir)
  let stored: { kid: string, privateJwk: JsonWebKey } | undefined
  try {
    stored = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read the local signing key ${file}: ${(err as Error).message}`)
  }
  if (!stored) stored = storeKey(dataDir, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)
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
export function createLocalIssuer (keys: LocalKeys, scopePrefix: string, now: () => number = Date.now, sign: SignFn = createSigner({ key: keys.privatePem, algorithm: 'RS256', kid: keys.kid })): LocalIssuer {
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
      const jti = randomUUID()
      const token = sign({
        iss: LOCAL_ISSUER,
        sub: subject,
        username: subject,
        token_use: 'local',
        scope: expandRoles(roles).map((r) => `${scopePrefix}:${r}`).join(' '),
        iat,
        exp,
        jti
      })
      return { token, expiresAt: new Date(exp * 1000).toISOString(), jti, subject }
    }
  }
}
