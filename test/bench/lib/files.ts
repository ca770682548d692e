import { readdirSync } from 'node:fs'
import { join } from 'node:path'

/** Every `.parquet` file under `dir` (recursive), as paths relative to it. */
export function parquetFiles (dir: string): string[] {
  const out: string[] = []
  const walk = (d: string, rel: string): void => {
    let entries
    try {
      entries = readdirSync(d, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(join(d, e.name), rel ? `${rel}/${e.name}` : e.name)
      else if (e.name.endsWith('.parquet')) out.push(rel ? `${rel}/${e.name}` : e.name)
    }
  }
  walk(dir, '')
  return out
}
