import t, { type Test } from 'tap'
import { ConfigError, loadConfig, splitList } from '../../config/load.ts'

const load = (env: Record<string, string>) => loadConfig(env, { dotenv: false })
const COGNITO = { AUTH_PROVIDERS: 'cognito', COGNITO_USER_POOL_ID: 'eu-west-1_AbC123', COGNITO_REGION: 'eu-west-1' }

function fails (t: Test, env: Record<string, string>, variable: string, message?: RegExp): void {
  let err: unknown
  try { load(env) } catch (e) { err = e }
  const label = `${JSON.stringify(env)} → ConfigError naming ${variable}`
  t.ok(err instanceof ConfigError, label)
  t.equal((err as ConfigError).variable, variable, label)
  t.match((err as Error).message, message ?? new RegExp(`^${variable}: `), label)
}

t.test('defaults', async (t) => {
  const c = load({})
  t.equal(c.AUTH_PROVIDERS, 'local')
  t.equal(c.PORT, 3000)
  t.equal(c.HOST, '127.0.0.1')
  t.equal(c.COGNITO_TOKEN_USE, 'any')
  t.equal(c.SCOPE_PREFIX, 'boilstream')
  t.equal(c.OIDC_GROUPS_CLAIM, 'groups')
  t.equal(c.DATA_DIR, './data')
  t.equal(c.FLUSH_INTERVAL_MS, 1000)
  t.equal(c.FLUSH_MAX_BYTES, 64 * 1024 * 1024)
  t.equal(c.MAX_REQUEST_BYTES, 1024 * 1024 * 1024)
  t.equal(c.MAX_BUFFERED_BYTES, 512 * 1024 * 1024)
  t.equal(c.PARQUET_COMPRESSION, 'zstd')
  t.equal(c.AUTO_CREATE_TOPICS, true)
  t.equal(c.LOG_LEVEL, 'info')
  t.same([c.ADMIN_GROUPS, c.WRITE_GROUPS, c.READ_ONLY_GROUPS, c.REQUIRED_READ_SCOPES, c.REQUIRED_WRITE_SCOPES, c.REQUIRED_ADMIN_SCOPES], ['', '', '', '', '', ''])
  t.same(splitList(' a, b ,,c '), ['a', 'b', 'c'])
})

t.test('production refuses local and has no default provider', async (t) => {
  fails(t, { NODE_ENV: 'production' }, 'AUTH_PROVIDERS', /local is refused in production/)
  fails(t, { NODE_ENV: 'production', AUTH_PROVIDERS: 'local' }, 'AUTH_PROVIDERS', /refused when NODE_ENV=production/)
  fails(t, { NODE_ENV: 'production', AUTH_PROVIDERS: 'cognito,local', COGNITO_USER_POOL_ID: 'eu-west-1_AbC123' }, 'AUTH_PROVIDERS')
  t.equal(load({ NODE_ENV: 'production', ...COGNITO }).AUTH_PROVIDERS, 'cognito')
})

t.test('providers', async (t) => {
  fails(t, { AUTH_PROVIDERS: 'ldap' }, 'AUTH_PROVIDERS', /unknown provider "ldap"/)
  fails(t, { AUTH_PROVIDERS: ' , ' }, 'AUTH_PROVIDERS')
  t.equal(load({ AUTH_PROVIDERS: 'local, cognito', COGNITO_USER_POOL_ID: 'eu-west-1_AbC123' }).AUTH_PROVIDERS, 'local, cognito')
})

t.test('cognito needs a pool id and a region', async (t) => {
  fails(t, { AUTH_PROVIDERS: 'cognito' }, 'COGNITO_USER_POOL_ID', /required/)
  fails(t, { ...COGNITO, COGNITO_USER_POOL_ID: 'not a pool' }, 'COGNITO_USER_POOL_ID')
  t.equal(load(COGNITO).COGNITO_REGION, 'eu-west-1')
  t.equal(load({ AUTH_PROVIDERS: 'cognito', COGNITO_USER_POOL_ID: 'eu-west-1_AbC123', AWS_REGION: 'us-east-2' }).COGNITO_REGION, 'eu-west-1', 'from the pool id, not the bucket\'s AWS_REGION')
  t.equal(load({ AUTH_PROVIDERS: 'cognito', COGNITO_USER_POOL_ID: 'ap-south-1_AbC123' }).COGNITO_REGION, 'ap-south-1', 'from the pool id')
  fails(t, { ...COGNITO, COGNITO_ENDPOINT: 'not a url' }, 'COGNITO_ENDPOINT')
  fails(t, { ...COGNITO, COGNITO_ENDPOINT: 'ftp://x' }, 'COGNITO_ENDPOINT')
  fails(t, { ...COGNITO, COGNITO_TOKEN_USE: 'refresh' }, 'COGNITO_TOKEN_USE')
})

t.test('oidc needs an issuer URL', async (t) => {
  fails(t, { AUTH_PROVIDERS: 'oidc' }, 'OIDC_ISSUER', /required/)
  fails(t, { AUTH_PROVIDERS: 'oidc', OIDC_ISSUER: 'issuer' }, 'OIDC_ISSUER')
  t.equal(load({ AUTH_PROVIDERS: 'oidc', OIDC_ISSUER: 'https://id.example.com/' }).OIDC_ISSUER, 'https://id.example.com/')
})

t.test('each bad value names its variable', async (t) => {
  const bad: Array<[string, string]> = [
    ['PORT', 'abc'], ['PORT', '70000'], ['LOG_LEVEL', 'loud'], ['SCOPE_PREFIX', 'a b'],
    ['FLUSH_INTERVAL_MS', '1'], ['FLUSH_MAX_BYTES', 'x'], ['PARQUET_COMPRESSION', 'gzip'],
    ['MAX_REQUEST_BYTES', '0'], ['MAX_BUFFERED_BYTES', '-5'], ['AUTO_CREATE_TOPICS', 'maybe'],
    ['S3_ENDPOINT', 'nope'], ['S3_PREFIX', 'no-slash'], ['S3_FORCE_PATH_STYLE', 'perhaps'],
    ['CORS_ORIGINS', 'not a url'], ['CORS_ORIGINS', 'https://ok.example.com,dashboard.example.com'], ['CORS_ORIGINS', 'https://a.example.com/path']
  ]
  for (const [variable, value] of bad) fails(t, { [variable]: value }, variable)
  for (const ok of ['', '*', 'https://a.example.com', 'https://a.example.com:8443, http://127.0.0.1:3000']) t.equal(load({ CORS_ORIGINS: ok }).CORS_ORIGINS, ok, `CORS_ORIGINS=${ok}`)
  fails(t, { TLS_CERT: '/x.pem' }, 'TLS_KEY')
  fails(t, { TLS_KEY: '/x.pem' }, 'TLS_CERT')
})
