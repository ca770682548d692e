import { createHmac, createSign, generateKeyPairSync } from 'node:crypto'
import type { LocalKeys } from '../../../src/auth/local-keys.ts'
import type { Rng } from './prng.ts'

const OTHER_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')

/** A JWT with any header/payload, signed RS256 with `privatePem` (so the signature is genuinely valid). */
export function signRs256 (header: unknown, payload: unknown, privatePem: string): string {
  const input = `${b64(header)}.${b64(payload)}`
  const sig = createSign('RSA-SHA256').update(input).sign(privatePem).toString('base64url')
  return `${input}.${sig}`
}

export interface AuthCase {
  kind: string
  /** The Authorization header value, or undefined for none. */
  authorization: string | undefined
  /** True when the token carries a genuine signature by the gateway's key and sane claims (200/403 allowed). */
  maybeValid: boolean
}

/**
 * Malformed, forged and odd credentials. `keys` is the gateway's local key pair, used for
 * algorithm-confusion forgeries (HS256 keyed with the public key) and for genuinely signed tokens
 * with hostile claims.
 */
export function authCase (rng: Rng, keys: LocalKeys, issuer: string): AuthCase {
  const now = Math.floor(Date.now() / 1000)
  const good = { iss: issuer, sub: 'fuzz', token_use: 'local', scope: 'boilstream:read', iat: now, exp: now + 600 }
  const header = { alg: 'RS256', typ: 'JWT', kid: keys.kid }
  const r = rng.int(0, 15)
  switch (r) {
    case 0: return { kind: 'random-ascii', authorization: `Bearer ${rng.ascii(rng.int(0, 400)).trim() || 'x'}`, maybeValid: false }
    case 1: return { kind: 'random-segments', authorization: `Bearer ${Array.from({ length: rng.int(1, 5) }, () => rng.ascii(rng.int(0, 80), 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')).join('.')}`, maybeValid: false }
    case 2: return { kind: 'alg-none', authorization: `Bearer ${b64({ alg: rng.pick(['none', 'None', 'NONE', 'nOnE']), typ: 'JWT' })}.${b64(good)}.`, maybeValid: false }
    case 3: {
      // The classic confusion: HS256 keyed with the RSA public key the server trusts.
      const h = { alg: 'HS256', typ: 'JWT', kid: keys.kid }
      const input = `${b64(h)}.${b64(good)}`
      const secret = rng.chance(0.5) ? keys.publicPem : JSON.stringify(keys.publicJwk)
      return { kind: 'alg-confusion', authorization: `Bearer ${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`, maybeValid: false }
    }
    case 4: {
      // A real signature, then one byte of header, payload or signature changed.
      const tok = signRs256(header, good, keys.privatePem).split('')
      const at = rng.int(0, tok.length - 1)
      const orig = tok[at]
      tok[at] = orig === 'A' ? 'B' : 'A'
      if (tok[at] === '.' || orig === '.') tok[at] = '.'
      return { kind: 'tampered', authorization: `Bearer ${tok.join('')}`, maybeValid: orig === '.' }
    }
    case 5: {
      const kid = rng.pick<unknown>(['', '../../../etc/passwd', 'x'.repeat(rng.int(1, 4000)), 42, null, { a: 1 }, [keys.kid], `${keys.kid}\u0000`, `unknown-${rng.int(0, 1e9)}`])
      return { kind: 'bad-kid', authorization: `Bearer ${signRs256({ ...header, kid }, good, keys.privatePem)}`, maybeValid: false }
    }
    case 6: {
      const iss = rng.pick<unknown>(['', 'https://evil.example', `${issuer}/`, issuer.toUpperCase(), [issuer], null, 1, { iss: issuer }])
      return { kind: 'bad-iss', authorization: `Bearer ${signRs256(header, { ...good, iss }, keys.privatePem)}`, maybeValid: false }
    }
    case 7: {
      const exp = rng.pick<unknown>([now - 3600, now - 61, 'tomorrow', null, -1, 0, 1e20, [now + 60], { n: 1 }, Number.MAX_SAFE_INTEGER])
      return { kind: 'bad-exp', authorization: `Bearer ${signRs256(header, { ...good, exp }, keys.privatePem)}`, maybeValid: exp === 1e20 || exp === Number.MAX_SAFE_INTEGER }
    }
    case 8: {
      const nbf = rng.pick<unknown>([now + 3600, now + 30, 'soon', null, -1])
      return { kind: 'bad-nbf', authorization: `Bearer ${signRs256(header, { ...good, nbf }, keys.privatePem)}`, maybeValid: nbf === now + 30 || nbf === -1 }
    }
    case 9: {
      // Genuinely signed, hostile claim types: must be a clean 401/403/200, never a 500.
      const claim = rng.pick(['sub', 'scope', 'token_use', 'username', 'groups', 'cognito:groups', 'iat', 'aud', 'client_id'])
      const value = rng.pick<unknown>([null, 1, true, [], {}, ['a', 1], 'x'.repeat(rng.int(0, 3000)), '', { toString: 1 }, '__proto__', 'boilstream:admin boilstream:write'])
      return { kind: `claim-${claim}`, authorization: `Bearer ${signRs256(header, { ...good, [claim]: value }, keys.privatePem)}`, maybeValid: true }
    }
    case 10: {
      const payload = rng.pick<unknown>(['null', '[]', '"str"', '1', 'not json', '{"__proto__":{"admin":true}}'])
      const input = `${b64(header)}.${b64(String(payload))}`
      return { kind: 'payload-shape', authorization: `Bearer ${input}.${createSign('RSA-SHA256').update(input).sign(keys.privatePem).toString('base64url')}`, maybeValid: false }
    }
    case 11: {
      const h = rng.pick<unknown>([null, [], 'x', { alg: 'RS512', kid: keys.kid }, { alg: 'ES256', kid: keys.kid }, { alg: 'PS256', kid: keys.kid }, { alg: ['RS256'], kid: keys.kid }, { kid: keys.kid }, { alg: 'RS256', kid: keys.kid, jku: 'http://127.0.0.1:1/jwks' }, { alg: 'RS256', kid: keys.kid, jwk: keys.publicJwk }])
      const input = `${b64(JSON.stringify(h))}.${b64(good)}`
      const sig = createSign('RSA-SHA256').update(input).sign(keys.privatePem).toString('base64url')
      // jku/jwk headers are ignored (keys only come from configuration): that token stays valid.
      const ignoredHeader = h !== null && typeof h === 'object' && ('jku' in h || 'jwk' in h)
      return { kind: 'bad-header', authorization: `Bearer ${input}.${sig}`, maybeValid: ignoredHeader }
    }
    case 12: {
      const valid = signRs256(header, good, keys.privatePem)
      const v = rng.pick([`Basic ${b64('a:b')}`, 'Bearer', 'Bearer ', `Bearer  ${valid}`, `Bearer ${valid} extra`, `Bearer ${valid},${valid}`, `Token ${valid}`, valid, `Bearer\t${valid}`, `bearer ${valid}`, `BEARER ${valid}`, `Bearer "${valid}"`, 'Bearer null', 'Bearer undefined', ''])
      const caseOk = v === `bearer ${valid}` || v === `BEARER ${valid}`
      return { kind: 'scheme', authorization: v, maybeValid: caseOk }
    }
    case 13: return { kind: 'huge', authorization: `Bearer ${rng.ascii(rng.int(8_000, 15_000), 'abcdefghij.')}`, maybeValid: false }
    case 14: return { kind: 'none', authorization: undefined, maybeValid: false }
    default: {
      // Valid structure, signature from a different key (same kid): a forged key rotation.
      return { kind: 'wrong-key', authorization: `Bearer ${signRs256(header, good, OTHER_KEY)}`, maybeValid: false }
    }
  }
}
