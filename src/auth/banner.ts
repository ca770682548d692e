import type { LocalIssuer, MintedToken } from './local-keys.ts'
import type { Role } from './types.ts'
import type { MintRecord } from './revocations.ts'

export const BANNER_TTL_SECONDS = 7 * 24 * 3600

export interface BannerTokens { link: MintedToken, admin: MintedToken, writer: MintedToken, reader: MintedToken }

/**
 * The banner's tokens, each recorded as minted the way POST /v1/admin/tokens records its own, so
 * DELETE /v1/admin/tokens/{jti} revokes them like any minted token. Rejects when a record could
 * not be written (the tokens are then not revocable).
 */
export async function mintBannerTokens (local: LocalIssuer, consoleTtlSeconds: number, record: (r: MintRecord) => Promise<void>): Promise<BannerTokens> {
  const mintedAt = new Date().toISOString()
  const mint = (subject: string, role: Role, ttlSeconds: number): { token: MintedToken, record: MintRecord } => {
    const token = local.mint({ subject, roles: [role], ttlSeconds })
    return { token, record: { jti: token.jti, sub: subject, roles: [role], exp: Math.floor(Date.parse(token.expiresAt) / 1000), mintedAt } }
  }
  // The console link's token rides in the URL fragment, which browsers never send to a server
  // (no proxy or access log sees it); the page reads it and clears it from the address bar.
  // Admin, like the lines above it on the same terminal, but short-lived: a link gets copied.
  const link = mint('local-console', 'admin', consoleTtlSeconds)
  const admin = mint('local-admin', 'admin', BANNER_TTL_SECONDS)
  const writer = mint('local-writer', 'write', BANNER_TTL_SECONDS)
  const reader = mint('local-reader', 'read', BANNER_TTL_SECONDS)
  await Promise.all([link, admin, writer, reader].map(async (m) => await record(m.record)))
  return { link: link.token, admin: admin.token, writer: writer.token, reader: reader.token }
}

/**
 * What `npm start` prints with the local provider on: one ready token per role and a curl line.
 * Meant for a developer's terminal, so it goes to stdout as plain text, not through the logger.
 */
export function localBanner ({ link, admin, writer, reader }: BannerTokens, baseUrl: string): string {
  return [
    '',
    '  Quiver local auth provider (development only; refused when NODE_ENV=production)',
    `  Tokens below are valid until ${admin.expiresAt}; mint more with POST /v1/admin/tokens,`,
    '  revoke any with DELETE /v1/admin/tokens/{jti} (the token\'s jti claim).',
    '',
    // Shell lines, pasted as they are: the README's commands use $ADMIN, $WRITER and $READER.
    `export ADMIN=${admin.token}`,
    `export WRITER=${writer.token}`,
    `export READER=${reader.token}`,
    '',
    '  Try it:',
    `  curl -H "Authorization: Bearer $ADMIN" ${baseUrl}/v1/whoami`,
    '',
    `  Browser console (admin, valid until ${link.expiresAt}):`,
    `  ${baseUrl}/console#token=${link.token}`,
    '',
    ''
  ].join('\n')
}

/** A URL a local curl can reach, from the configured host and the port actually bound. */
export function localBaseUrl (host: string, port: number, tls: boolean): string {
  const h = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  return `${tls ? 'https' : 'http'}://${h}:${port}`
}
