/**
 * A request URL fit for logs: the value of every `access_token` query parameter is replaced,
 * whatever the spelling of its name (`access%5Ftoken` decodes to the same parameter, and the
 * query parser reads it as the token).
 */
export function redactUrl (url: string): string {
  const q = url.indexOf('?')
  if (q < 0) return url
  const params = url.slice(q + 1).split('&').map((part) => {
    const eq = part.indexOf('=')
    const name = eq < 0 ? part : part.slice(0, eq)
    let decoded = name
    try { decoded = decodeURIComponent(name.replace(/\+/g, ' ')) } catch {}
    return decoded.trim().toLowerCase() === 'access_token' ? `${name}=[redacted]` : part
  })
  return `${url.slice(0, q)}?${params.join('&')}`
}
