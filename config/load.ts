import { readFileSync } from 'node:fs'
import { envSchema } from 'env-schema'
import { ConfigSchema, type Config } from './schema.ts'
import { dotenvVariables } from './typos.ts'

export class ConfigError extends Error {
  constructor (readonly variable: string, message: string) {
    super(`${variable}: ${message}`)
    this.name = 'ConfigError'
  }
}

export function splitList (value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean)
}

const PROVIDERS = new Set(['cognito', 'oidc', 'local'])

/**
 * Reads the environment (and `.env` when present), applies defaults and checks the
 * relations the schema cannot express. Throws ConfigError naming the first bad variable.
 */
export function loadConfig (env: Record<string, string | undefined> = process.env, opts: { dotenv?: boolean } = {}): Config {
  let config: Config
  const dotenv = opts.dotenv ?? env === process.env
  try {
    config = envSchema<Config>({ schema: ConfigSchema, data: env, dotenv })
  } catch (err) {
    const e = err as Error & { errors?: Array<{ instancePath?: string, params?: { missingProperty?: string }, message?: string }> }
    const first = e.errors?.[0]
    const variable = first?.instancePath?.replace(/^\//, '') || first?.params?.missingProperty || 'environment'
    const allowed = allowedValues(variable)
    // ajv reports a union of literals as "must be equal to constant": name the choices instead.
    if (allowed) throw new ConfigError(variable, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(seenValue(variable, env, dotenv))})`)
    throw new ConfigError(variable, first?.message ?? e.message)
  }
  if (config.AUTH_PROVIDERS === '') config.AUTH_PROVIDERS = config.NODE_ENV === 'production' ? '' : 'local'
  const providers = splitList(config.AUTH_PROVIDERS)
  if (providers.length === 0) throw new ConfigError('AUTH_PROVIDERS', 'must name at least one of cognito, oidc, local (local is refused in production)')
  for (const p of providers) {
    if (!PROVIDERS.has(p)) throw new ConfigError('AUTH_PROVIDERS', `unknown provider "${p}" (expected cognito, oidc, local)`)
  }
  if (providers.includes('local') && config.NODE_ENV === 'production') {
    throw new ConfigError('AUTH_PROVIDERS', 'the local provider is refused when NODE_ENV=production; configure cognito or oidc')
  }
  if (providers.includes('cognito')) {
    if (!config.COGNITO_USER_POOL_ID) throw new ConfigError('COGNITO_USER_POOL_ID', 'required when AUTH_PROVIDERS includes cognito')
    if (!/^[\w-]+_[0-9a-zA-Z]+$/.test(config.COGNITO_USER_POOL_ID)) throw new ConfigError('COGNITO_USER_POOL_ID', 'must look like <region>_<id>')
    // A pool id names its region; AWS_REGION is the bucket's, which may be another one.
    if (!config.COGNITO_REGION) config.COGNITO_REGION = config.COGNITO_USER_POOL_ID.split('_')[0]
  }
  if (config.COGNITO_ENDPOINT) checkUrl('COGNITO_ENDPOINT', config.COGNITO_ENDPOINT)
  if (providers.includes('oidc')) {
    if (!config.OIDC_ISSUER) throw new ConfigError('OIDC_ISSUER', 'required when AUTH_PROVIDERS includes oidc')
    checkUrl('OIDC_ISSUER', config.OIDC_ISSUER)
  }
  if (config.S3_ENDPOINT) checkUrl('S3_ENDPOINT', config.S3_ENDPOINT)
  if (config.S3_PREFIX && !config.S3_PREFIX.endsWith('/')) throw new ConfigError('S3_PREFIX', 'must end with "/"')
  if (Boolean(config.TLS_CERT) !== Boolean(config.TLS_KEY)) throw new ConfigError(config.TLS_CERT ? 'TLS_KEY' : 'TLS_CERT', 'TLS_CERT and TLS_KEY go together')
  if (config.TLS_CERT) {
    checkReadable('TLS_CERT', config.TLS_CERT)
    checkReadable('TLS_KEY', config.TLS_KEY)
  }
  return config
}

/**
 * The value env-schema judged: it merges `.env`, then the process environment, then `env`, the
 * later winning. Looking in `env` alone said "got undefined" for a value set in `.env`.
 */
function seenValue (variable: string, env: Record<string, string | undefined>, dotenv: boolean): string | undefined {
  return env[variable] ?? process.env[variable] ?? (dotenv ? dotenvVariables()[variable] : undefined)
}

/** The literals of an enum-like variable (a TypeBox union of literals), else undefined. */
function allowedValues (variable: string): string[] | undefined {
  const schema = (ConfigSchema.properties as Record<string, { anyOf?: Array<{ const?: unknown }> }>)[variable]
  const values = schema?.anyOf?.map((s) => s.const)
  return values?.length && values.every((v) => typeof v === 'string') ? values as string[] : undefined
}

/** Reads the file now, so a missing or unreadable one is a configuration error naming its variable. */
function checkReadable (variable: string, path: string): void {
  try { readFileSync(path) } catch (err) {
    throw new ConfigError(variable, `cannot read ${path}: ${(err as Error).message.replace(/, \w+ '.*'$/, '')}`)
  }
}

function checkUrl (variable: string, value: string): void {
  let url: URL
  try { url = new URL(value) } catch { throw new ConfigError(variable, `not a URL: ${value}`) }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(variable, 'must be an http(s) URL')
}
