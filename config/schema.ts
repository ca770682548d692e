import { Type, type Static } from '@sinclair/typebox'

const CommaList = (description: string) => Type.String({ default: '', description })

/**
 * The one description of Quiver's environment (CONTRACT §2). Types come from it via Static;
 * nothing re-declares them by hand.
 */
export const ConfigSchema = Type.Object({
  NODE_ENV: Type.String({ default: 'development' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ default: '127.0.0.1' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),

  AUTH_PROVIDERS: CommaList('comma list of cognito, oidc, local'),
  COGNITO_USER_POOL_ID: Type.String({ default: '' }),
  COGNITO_REGION: Type.String({ default: '' }),
  COGNITO_AUDIENCE: CommaList('app client ids'),
  COGNITO_TOKEN_USE: Type.Union([Type.Literal('access'), Type.Literal('id'), Type.Literal('any')], { default: 'any' }),
  COGNITO_ENDPOINT: Type.String({ default: '' }),
  OIDC_ISSUER: Type.String({ default: '' }),
  OIDC_AUDIENCE: CommaList('accepted aud values'),
  OIDC_GROUPS_CLAIM: Type.String({ default: 'groups' }),
  ADMIN_GROUPS: CommaList('groups granting admin'),
  WRITE_GROUPS: CommaList('groups granting write'),
  READ_ONLY_GROUPS: CommaList('groups granting read'),
  SCOPE_PREFIX: Type.String({ default: 'boilstream', pattern: '^[A-Za-z0-9_.-]+$' }),
  REQUIRED_READ_SCOPES: CommaList('scopes every read needs'),
  REQUIRED_WRITE_SCOPES: CommaList('scopes every write needs'),
  REQUIRED_ADMIN_SCOPES: CommaList('scopes every admin operation needs'),

  S3_BUCKET: Type.String({ default: '' }),
  AWS_REGION: Type.String({ default: 'us-east-1' }),
  S3_ENDPOINT: Type.String({ default: '' }),
  S3_FORCE_PATH_STYLE: Type.Boolean({ default: false }),
  S3_PREFIX: Type.String({ default: '' }),
  DATA_DIR: Type.String({ default: './data' }),

  FLUSH_INTERVAL_MS: Type.Integer({ minimum: 10, default: 1000 }),
  FLUSH_MAX_BYTES: Type.Integer({ minimum: 1024, default: 64 * 1024 * 1024 }),
  PARQUET_COMPRESSION: Type.Union([Type.Literal('zstd'), Type.Literal('snappy'), Type.Literal('lz4'), Type.Literal('none')], { default: 'zstd' }),
  MAX_REQUEST_BYTES: Type.Integer({ minimum: 1, default: 1024 * 1024 * 1024 }),
  MAX_BUFFERED_BYTES: Type.Integer({ minimum: 1024, default: 512 * 1024 * 1024 }),
  AUTO_CREATE_TOPICS: Type.Boolean({ default: true }),
  ENCODER_THREADS: Type.Integer({ minimum: 0, default: 0, description: '0 = one per core' }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 30000 }),
  CORS_ORIGINS: CommaList('origins allowed by CORS; empty = CORS closed'),
  TLS_CERT: Type.String({ default: '' }),
  TLS_KEY: Type.String({ default: '' }),
  RATE_LIMIT_MAX: Type.Integer({ minimum: 0, default: 0, description: 'requests per minute per principal; 0 = off' }),
  WS_MAX_MESSAGE_BYTES: Type.Integer({ minimum: 1024, default: 256 * 1024 * 1024 }),
  WS_MAX_INFLIGHT: Type.Integer({ minimum: 1, default: 64 }),
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 5 * 60 * 1000, description: 'a request (headers and body) must arrive within this time; cuts slow-body clients' })
})

export type Config = Static<typeof ConfigSchema>
