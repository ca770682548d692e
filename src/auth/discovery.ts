import type { Dispatcher } from 'undici'

/**
 * The JWKS location named by the issuer's OpenID discovery document, once the document names
 * this very issuer (OpenID Connect Discovery §4.3: otherwise a document at this address could
 * speak for another issuer). The caller pins the answer: the document is not read again, so a
 * later change of `jwks_uri` is never followed.
 */
export async function discoverJwksUri (issuer: string, fetchOptions: { dispatcher?: Dispatcher }, timeoutMs: number): Promise<string> {
  const base = issuer.endsWith('/') ? issuer : `${issuer}/`
  const res = await fetch(`${base}.well-known/openid-configuration`, { ...fetchOptions, signal: AbortSignal.timeout(timeoutMs) } as RequestInit)
  if (!res.ok) throw new Error(`discovery document: HTTP ${res.status}`)
  const doc = await res.json() as { issuer?: unknown, jwks_uri?: unknown }
  if (doc.issuer !== issuer) throw new Error(`discovery document of ${issuer} names issuer ${JSON.stringify(doc.issuer)}`)
  if (typeof doc.jwks_uri !== 'string' || !URL.canParse(doc.jwks_uri)) throw new Error('discovery document: no valid jwks_uri')
  const { protocol } = new URL(doc.jwks_uri)
  if (protocol !== 'https:' && protocol !== 'http:') throw new Error('discovery document: jwks_uri is not http(s)')
  return doc.jwks_uri
}
