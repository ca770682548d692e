import type { LocalIssuer } from './local-keys.ts'

export const BANNER_TTL_SECONDS = 7 * 24 * 3600

/**
 * What `npm start` prints with the local provider on: one ready token per role and a curl line.
 * Meant for a developer's terminal, so it goes to stdout as plain text, not through the logger.
 */
export function localBanner (local: LocalIssuer, baseUrl: string, consoleTtlSeconds: number): string {
  // The console link's token rides in the URL fragment, which browsers never send to a server
  // (no proxy or access log sees it); the page reads it and clears it from the address bar.
  // Admin, like the lines above it on the same terminal, but short-lived: a link gets copied.
  const link = local.mint({ subject: 'local-console', roles: ['admin'], ttlSeconds: consoleTtlSeconds })
  const admin = local.mint({ subject: 'local-admin', roles: ['admin'], ttlSeconds: BANNER_TTL_SECONDS })
  const writer = local.mint({ subject: 'local-writer', roles: ['write'], ttlSeconds: BANNER_TTL_SECONDS })
  const reader = local.mint({ subject: 'local-reader', roles: ['read'], ttlSeconds: BANNER_TTL_SECONDS })
  return [
    '',
    '  Quiver local auth provider (development only; refused when NODE_ENV=production)',
    `  Tokens below are valid until ${admin.expiresAt}; mint more with POST /v1/admin/tokens.`,
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
