import type { LocalIssuer } from './local-keys.ts'

export const BANNER_TTL_SECONDS = 7 * 24 * 3600

/**
 * What `npm start` prints with the local provider on: one ready token per role and a curl line.
 * Meant for a developer's terminal, so it goes to stdout as plain text, not through the logger.
 */
export function localBanner (local: LocalIssuer, baseUrl: string): string {
  const admin = local.mint({ subject: 'local-admin', roles: ['admin'], ttlSeconds: BANNER_TTL_SECONDS })
  const writer = local.mint({ subject: 'local-writer', roles: ['write'], ttlSeconds: BANNER_TTL_SECONDS })
  const reader = local.mint({ subject: 'local-reader', roles: ['read'], ttlSeconds: BANNER_TTL_SECONDS })
  return [
    '',
    '  Quiver local auth provider (development only; refused when NODE_ENV=production)',
    `  Tokens below are valid until ${admin.expiresAt}; mint more with POST /v1/admin/tokens.`,
    '',
    `  QUIVER_ADMIN_TOKEN=${admin.token}`,
    `  QUIVER_WRITER_TOKEN=${writer.token}`,
    `  QUIVER_READER_TOKEN=${reader.token}`,
    '',
    '  Try it:',
    `  curl -H "Authorization: Bearer ${admin.token}" ${baseUrl}/v1/whoami`,
    '',
    ''
  ].join('\n')
}

/** A URL a local curl can reach, from the configured host and the port actually bound. */
export function localBaseUrl (host: string, port: number, tls: boolean): string {
  const h = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  return `${tls ? 'https' : 'http'}://${h}:${port}`
}
