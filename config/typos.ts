import { readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import leven from 'leven'
import { ConfigSchema } from './schema.ts'

/** Variables Quiver reads outside ConfigSchema (the CLI's). */
const OTHER_KNOWN = ['QUIVER_URL', 'QUIVER_TOKEN', 'QUIVER_HEAP_MB']
/** Prefixes only Quiver's variables use: any other name under them is a slip. */
const FAMILIES = ['COGNITO_', 'OIDC_', 'QUIVER_', 'REQUIRED_']

/**
 * Names in the environment that are not ours but look like a misspelling of one of ours
 * (`AUTH_PROVIDER` for `AUTH_PROVIDERS`): such a variable is otherwise silently ignored and the
 * gateway runs with the default. Each answer is `[given, meant]`.
 */
export function likelyTypos (env: Record<string, string | undefined>): Array<[string, string]> {
  const known = [...Object.keys(ConfigSchema.properties), ...OTHER_KNOWN]
  const exact = new Set(known)
  const found: Array<[string, string]> = []
  for (const name of Object.keys(env)) {
    if (exact.has(name) || env[name] === undefined) continue
    const upper = name.toUpperCase()
    // Short names (HOME, PATH, USER) sit within two edits of HOST or PORT by chance: allow one
    // edit below 8 characters, two from there on, and any case slip.
    const budget = name.length < 8 ? 1 : 2
    let best: string | null = null
    let bestDistance = Infinity
    for (const k of known) {
      const d = upper === k ? 0 : leven(name, k)
      if (d < bestDistance) { best = k; bestDistance = d }
    }
    // A name cut short (FLUSH_INTERVAL for FLUSH_INTERVAL_MS) is as likely as a typo.
    const cut = known.find((k) => upper.length >= 8 && k.startsWith(upper))
    if (cut !== undefined && bestDistance > 0) { best = cut; bestDistance = 0 }
    const family = FAMILIES.some((f) => upper.startsWith(f))
    if (best !== null && (bestDistance <= budget || upper === best || family)) found.push([name, best])
  }
  return found
}

/** The variables of `.env` in the working directory, parsed as env-schema does (Node's `util.parseEnv`; it reads them without exporting them). */
export function dotenvVariables (path = '.env'): Record<string, string> {
  try {
    return parseEnv(readFileSync(path, 'utf8')) as Record<string, string>
  } catch {
    return {}
  }
}
