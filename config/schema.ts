import { constants } from 'node:buffer'
import { Type, type Static } from '@sinclair/typebox'

const CommaList = (description: string) => Type.String({ default: '', description })

/**
 * The one description of Quiver's environment (README "Configuration" lists it). Types come from it via Static;
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
  // V8's longest string is the most JSON.parse can take (src/arrow/json-slices.ts MAX_ELEMENT_BYTES)
  MAX_JSON_ROW_BYTES: Type.Integer({ minimum: 1024, maximum: constants.MAX_STRING_LENGTH, default: 16 * 1024 * 1024, description: 'bytes of one NDJSON line or JSON array element; longer → 413 QUIVER_PAYLOAD_TOO_LARGE' }),
  AUTO_CREATE_TOPICS: Type.Boolean({ default: true }),
  ENCODER_THREADS: Type.Integer({ minimum: 0, default: 0, description: '0 = one per core' }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 30000 }),
  // Each an origin as browsers send it (scheme://host[:port], no path), or `*`: a typo would otherwise leave CORS closed without a word.
  CORS_ORIGINS: Type.String({
    default: '',
    pattern: '^\\s*(|\\*|https?://[^/,\\s]+)(\\s*,\\s*(\\*|https?://[^/,\\s]+))*\\s*$',
    description: 'comma list of origins allowed by CORS (scheme://host[:port], or *); empty = CORS closed'
  }),
  TLS_CERT: Type.String({ default: '' }),
  TLS_KEY: Type.String({ default: '' }),
  RATE_LIMIT_MAX: Type.Integer({ minimum: 0, default: 0, description: 'requests per minute per principal; 0 = off' }),
  WS_MAX_MESSAGE_BYTES: Type.Integer({ minimum: 1024, default: 256 * 1024 * 1024 }),
  WS_MAX_INFLIGHT: Type.Integer({ minimum: 1, default: 64 }),
  // surface: WebSocket connections (ingest + tail) one principal (iss+sub) may hold open
  WS_MAX_CONNECTIONS_PER_SUB: Type.Integer({ minimum: 1, default: 100, description: 'open WebSocket connections per principal; beyond it the upgrade is refused with 429 QUIVER_TOO_MANY_CONNECTIONS' }),
  // auth: key sets and minted tokens
  JWKS_CACHE_TTL_S: Type.Integer({ minimum: 10, default: 600, description: 'a fetched JWKS key is trusted this long (at least the 10 s fetch window); a key the provider removed is refused after it' }),
  JWKS_FETCH_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 3000, description: 'the longest an issuer\'s discovery or JWKS fetch may take; a token whose keys could not be fetched gets 503 QUIVER_AUTH_UNAVAILABLE' }),
  LOCAL_TOKEN_MAX_TTL_S: Type.Integer({ minimum: 60, default: 604800, description: 'longest ttlSeconds POST /v1/admin/tokens accepts' }),
  LOCAL_TOKEN_REVOCATION_POLL_S: Type.Integer({ minimum: 1, default: 5, description: 'how often each instance re-reads the revocation list from storage (the propagation delay)' }),

  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 5 * 60 * 1000, description: 'a request (headers and body) must arrive within this time; cuts slow-body clients' }),

  // --- types: schema size bounds and evolution ---
  MAX_SCHEMA_FIELDS: Type.Integer({ minimum: 1, default: 10_000, description: 'fields of one schema counted at every nesting level; more → 400' }),
  MAX_TYPE_LENGTH: Type.Integer({ minimum: 64, default: 1024 * 1024, description: 'characters of one type string in a topic schema; longer → 400' }),

  // evolution: schema versions
  AUTO_EVOLVE_TOPICS: Type.Boolean({ default: true, description: 'a writer\'s stream that only adds nullable fields evolves the topic (topics created with evolution "none" or "additive" decide for themselves)' }),

  // Lake: partitions and idempotency keys.
  MAX_PARTITIONS_PER_FLUSH: Type.Integer({ minimum: 1, default: 1000, description: 'distinct partitions (values × time bucket) one flush of a topic may write; a request feeding more gets 422 QUIVER_TOO_MANY_PARTITIONS' }),
  IDEMPOTENCY_LEASE_MS: Type.Integer({ minimum: 1000, default: 30000, description: 'an in-flight Idempotency-Key of a gateway that died stops blocking retries after this' }),
  IDEMPOTENCY_TTL_S: Type.Integer({ minimum: 1, default: 86400, description: 'how long a committed Idempotency-Key is remembered (replayed)' }),

  // --- surface: console link, metrics exposure ---
  CONSOLE_LINK_TTL_S: Type.Integer({ minimum: 60, maximum: 86400, default: 3600, description: 'lifetime of the admin token in the console link the local provider prints at startup' }),
  METRICS_TOPIC_LABELS: Type.Integer({ minimum: 0, default: 100, description: 'catalog topics /metrics labels by name; later ones count under topic="_other"' }),
  METRICS_TOKEN: Type.String({ default: '', pattern: '^(|\\S{16,})$', description: 'when set, GET /metrics needs Authorization: Bearer <this>; else 401' }),

  // ingest service (src/ingest/)
  INGEST_CATALOG_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10_000, description: 'an ingest whose topic lookup in storage takes longer gets 503 QUIVER_STORAGE_UNAVAILABLE and frees its admission reservation' })
})

export type Config = Static<typeof ConfigSchema>
