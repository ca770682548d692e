import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig } from '../../config/load.ts'
import { dotenvVariables, likelyTypos } from '../../config/typos.ts'
import { startGateway } from '../helpers/gateway.ts'

t.test('names one or two edits from ours, a wrong case or our prefixes are reported with the name meant', async (t) => {
  t.same(likelyTypos({
    AUTH_PROVIDER: 'cognito',
    COGNITO_USERPOOL_ID: 'x',
    cognito_region: 'eu-west-1',
    FLUSH_INTERVAL: '5',
    OIDC_ISSUER_URL: 'https://id.example.com',
    QUIVER_TOKN: 'x',
    PORTS: '3000'
  }), [
    ['AUTH_PROVIDER', 'AUTH_PROVIDERS'],
    ['COGNITO_USERPOOL_ID', 'COGNITO_USER_POOL_ID'],
    ['cognito_region', 'COGNITO_REGION'],
    ['FLUSH_INTERVAL', 'FLUSH_INTERVAL_MS'],
    ['OIDC_ISSUER_URL', 'OIDC_ISSUER'],
    ['QUIVER_TOKN', 'QUIVER_TOKEN'],
    ['PORTS', 'PORT']
  ])
})

t.test('our own names and the usual environment of a shell, a CI or a container are not reported', async (t) => {
  t.same(likelyTypos({
    AUTH_PROVIDERS: 'cognito',
    COGNITO_USER_POOL_ID: 'x',
    PORT: '1',
    HOST: 'h',
    QUIVER_URL: 'u',
    HOME: '/root',
    PATH: '/bin',
    USER: 'root',
    SHELL: '/bin/sh',
    TERM: 'xterm',
    PWD: '/',
    LANG: 'C',
    HOSTNAME: 'box',
    TMPDIR: '/tmp',
    NODE_OPTIONS: '',
    NODE_PATH: '',
    CI: 'true',
    AWS_ACCESS_KEY_ID: 'a',
    AWS_SECRET_ACCESS_KEY: 's',
    AWS_DEFAULT_REGION: 'r',
    AWS_PROFILE: 'p',
    DEBIAN_FRONTEND: 'noninteractive',
    npm_config_cache: 'c',
    OLDPWD: '/',
    SHLVL: '1'
  }), [])
})

t.test('.env variables are read for the check', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-typos-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, '.env'), 'AUTH_PROVIDER=cognito\nPORT=3000\n')
  t.same(dotenvVariables(join(dir, '.env')), { AUTH_PROVIDER: 'cognito', PORT: '3000' })
  t.same(dotenvVariables(join(dir, 'missing.env')), {})
})

t.test('enum errors list the allowed values', async (t) => {
  const message = (env: Record<string, string>) => {
    try { loadConfig(env, { dotenv: false }) } catch (err) { return err instanceof ConfigError ? err.message : String(err) }
    return ''
  }
  t.equal(message({ PARQUET_COMPRESSION: 'gzip' }), 'PARQUET_COMPRESSION: must be one of zstd, snappy, lz4, none (got "gzip")')
  t.equal(message({ COGNITO_TOKEN_USE: 'refresh' }), 'COGNITO_TOKEN_USE: must be one of access, id, any (got "refresh")')
  t.equal(message({ LOG_LEVEL: 'loud' }), 'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")')
})

t.test('a started gateway warns about AUTH_PROVIDER and still starts with the default provider', async (t) => {
  const gw = await startGateway(t, { AUTH_PROVIDER: 'cognito', LOG_LEVEL: 'info' })
  const lines = gw.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
  const warning = lines.find((l) => l.variable === 'AUTH_PROVIDER')
  t.match(warning, { level: 40, variable: 'AUTH_PROVIDER', meant: 'AUTH_PROVIDERS', msg: 'config: AUTH_PROVIDER is not a Quiver variable and is ignored: did you mean AUTH_PROVIDERS?' })
})
