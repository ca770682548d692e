import { createHash, timingSafeEqual } from 'node:crypto'

/**
 * Whether an Authorization header carries the configured scraper token. Compared as SHA-256
 * digests in constant time: equal lengths for timingSafeEqual, and no timing hint of the prefix.
 */
export function createScrapeCheck (token: string): (authorization: string | undefined) => boolean {
  const want = createHash('sha256').update(token).digest()
  return (authorization) => {
    const m = /^Bearer ([^\s]+)$/i.exec(authorization ?? '')
    if (!m) return false
    return timingSafeEqual(createHash('sha256').update(m[1]).digest(), want)
  }
}
