/**
 * Hive's partition path rules (FileUtils.escapePathName), so every engine that reads Hive layouts
 * (DuckDB, Spark, Athena, polars) turns a directory name back into the value we wrote.
 */

/** Written for null and the empty string; engines read it back as null. */
export const HIVE_DEFAULT_PARTITION = '__HIVE_DEFAULT_PARTITION__'

const ESCAPED = new Uint8Array(128)
// Hive escapes every control character below the space (NUL included: no file system takes it).
for (let c = 0; c < 0x20; c++) ESCAPED[c] = 1
for (const ch of '"#%\'*/:=?\\^{[]\u007f') ESCAPED[ch.charCodeAt(0)] = 1

const HEX = '0123456789ABCDEF'

/** Hive's escapePathName: the characters above become uppercase `%XX`; everything else (non-ASCII too) stays. */
export function escapePathName (value: string | null | undefined): string {
  if (value === null || value === undefined || value === '') return HIVE_DEFAULT_PARTITION
  let out = ''
  let from = 0
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 128 && ESCAPED[c] === 1) {
      out += value.slice(from, i) + '%' + HEX[c >> 4] + HEX[c & 15]
      from = i + 1
    }
  }
  return from === 0 ? value : out + value.slice(from)
}

/** Hive's unescapePathName (for reading keys back); the default partition reads as null. */
export function unescapePathName (segment: string): string | null {
  if (segment === HIVE_DEFAULT_PARTITION) return null
  return segment.replace(/%([0-9A-F]{2})/g, (m, hex: string) => {
    const c = parseInt(hex, 16)
    return c < 128 && ESCAPED[c] === 1 ? String.fromCharCode(c) : m
  })
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n))

/** `YYYY-MM-DD` of a UTC day number (days since the epoch, Arrow date32). */
export function formatDay (days: number): string {
  const d = new Date(days * 86_400_000)
  return `${String(d.getUTCFullYear()).padStart(4, '0')}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`
}

/** Time-bucket directories of a UTC instant: `year=YYYY/month=MM/day=DD[/hour=HH]`. */
export function timeDirs (ms: number, granularity: 'hour' | 'day'): string {
  const d = new Date(ms)
  const day = `year=${String(d.getUTCFullYear()).padStart(4, '0')}/month=${pad2(d.getUTCMonth() + 1)}/day=${pad2(d.getUTCDate())}`
  return granularity === 'day' ? day : `${day}/hour=${pad2(d.getUTCHours())}`
}
