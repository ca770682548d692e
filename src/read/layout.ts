/**
 * True when `key` has the shape of an object Quiver commits for `topic`:
 * `{topic}/{name=value/…}{id}.parquet` (src/keys.ts), the id 26 Crockford base32 characters.
 * Anything else under the prefix (`othersys/exports/payroll.parquet`) is not ours to list.
 */
const ID = '[0-9A-HJKMNP-TV-Z]{26}'

export function isQuiverObjectKey (topic: string, key: string): boolean {
  if (!key.startsWith(`${topic}/`)) return false
  const rest = key.slice(topic.length + 1).split('/')
  const file = rest.pop()!
  if (!new RegExp(`^${ID}\\.parquet$`).test(file) || rest.length === 0) return false
  return rest.every((dir) => /^[^=/]+=[^/]*$/.test(dir))
}
