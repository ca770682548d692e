import { generateKeyPairSync, sign as rsaSign, type KeyObject } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

type Teardown = { teardown: (fn: () => unknown) => void }

export interface IssuerKey { kid: string, privateKey: KeyObject, jwk: Record<string, unknown> }

export interface TestIssuer {
  issuer: string
  base: string
  /** Keys published at `/certs` (the jwks_uri of the discovery document unless changed). */
  keys: Array<Record<string, unknown>>
  /** The discovery document's jwks_uri path; change it during a test. */
  setJwksPath (path: string): void
  /** Keys served at a path other than `/certs`. */
  serve (path: string, keys: Array<Record<string, unknown>>): void
  /** Requests seen per path. */
  hits (path: string): number
  /** While set, every request is answered with this status (an outage on the provider's side); null serves again. */
  failWith (status: number | null): void
  sign (key: IssuerKey, claims?: Record<string, unknown>, header?: Record<string, unknown>): string
}

/** A fresh RSA key and its public JWK (`extra` adds or overrides members such as use or alg). */
export function rsaKey (kid: string, extra: Record<string, unknown> = { alg: 'RS256', use: 'sig' }): IssuerKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, ...extra } }
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')

/**
 * An OpenID provider served by the test itself on 127.0.0.1 (random port): a discovery document
 * at `{issuer}/.well-known/openid-configuration` and a JWKS the test changes while it runs,
 * counting every request per path.
 */
export async function startIssuer (t: Teardown): Promise<TestIssuer> {
  const counts = new Map<string, number>()
  const extra = new Map<string, Array<Record<string, unknown>>>()
  let jwksPath = '/certs'
  let failing: number | null = null
  const state = { keys: [] as Array<Record<string, unknown>> }
  const server = createServer((req, res) => {
    const path = req.url ?? ''
    counts.set(path, (counts.get(path) ?? 0) + 1)
    if (failing !== null) {
      res.writeHead(failing, { 'content-type': 'text/plain' }).end('unavailable')
      return
    }
    const body = path === '/.well-known/openid-configuration'
      ? { issuer: base, jwks_uri: `${base}${jwksPath}` }
      : path === '/certs' ? { keys: state.keys } : extra.has(path) ? { keys: extra.get(path) } : undefined
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) }))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    issuer: base,
    base,
    get keys () { return state.keys },
    set keys (k) { state.keys = k },
    setJwksPath (p) { jwksPath = p },
    serve (p, keys) { extra.set(p, keys) },
    hits: (p) => counts.get(p) ?? 0,
    failWith (status) { failing = status },
    sign (key, claims = {}, header = {}) {
      const now = Math.floor(Date.now() / 1000)
      const input = `${b64({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...header })}.${b64({ iss: base, sub: 'svc-1', aud: 'quiver', iat: now, exp: now + 600, groups: ['readers'], ...claims })}`
      return `${input}.${rsaSign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`
    }
  }
}
