/**
 * Makes the document @fastify/swagger generates usable by client generators as it is served
 * (openapi-typescript, @hey-api/openapi-ts, swagger-client, openapi-generator): one operationId per
 * operation named for what it does, `security: []` where no token is needed, `format: binary` on
 * every binary body, and parameters that have a default not marked required. Plain JSON work on
 * the route schema, keyed by method and URL, so route files need not repeat any of it.
 * It also puts in the routes @fastify/swagger leaves out on its own: WebSocket routes (as their GET
 * upgrade), library pages, and routes registered before its hook.
 */
import { ErrorSchema } from './http/error-schema.ts'

/** Names by `METHOD url` (Fastify's URL syntax). A route missing here gets one derived from its path. */
export const OPERATION_IDS: Record<string, string> = {
  'GET /healthz': 'checkLiveness',
  'GET /readyz': 'checkReadiness',
  'GET /metrics': 'getMetrics',
  'GET /openapi.json': 'getOpenApiDocument',
  'GET /docs': 'getSwaggerUi',
  'GET /console': 'getConsole',
  'GET /.well-known/jwks.json': 'getLocalJwks',
  'GET /v1/whoami': 'whoAmI',
  'POST /v1/topics': 'createTopic',
  'GET /v1/topics': 'listTopics',
  'GET /v1/topics/:topic': 'getTopic',
  'PATCH /v1/topics/:topic': 'evolveTopicSchema',
  'DELETE /v1/topics/:topic': 'deleteTopic',
  'POST /v1/topics/:topic/records': 'ingestRecords',
  'GET /v1/topics/:topic/stream': 'ingestStream',
  'GET /v1/topics/:topic/tail': 'tailRecords',
  'GET /v1/topics/:topic/records': 'readRecords',
  'GET /v1/topics/:topic/files': 'listFiles',
  'POST /v1/admin/flush': 'flushAll',
  'GET /v1/admin/stats': 'getStats',
  'POST /v1/admin/tokens': 'mintToken',
  'DELETE /v1/admin/tokens/:jti': 'revokeToken'
}

/** The document's `components.securitySchemes`. */
export const SECURITY_SCHEMES = {
  bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
  // A browser cannot set headers on a WebSocket handshake: the token may come in the URL instead.
  accessTokenQuery: {
    type: 'apiKey',
    in: 'query',
    name: 'access_token',
    description: 'The JWT as `?access_token=`: WebSocket upgrades only (elsewhere it counts for nothing), redacted from logs.'
  },
  metricsToken: {
    type: 'http',
    scheme: 'bearer',
    description: '`METRICS_TOKEN` (a static secret shared with the scraper, not a JWT): needed by /metrics only when it is set.'
  }
} as const

/** `DELETE /v1/admin/things/:id` → `deleteAdminThingsById`: unique and stable for an unnamed route. */
export function derivedOperationId (method: string, url: string): string {
  const words = url.split('/').filter(Boolean).map((s) => s.startsWith(':') ? `by-${s.slice(1)}` : s)
  const camel = words.join('-').split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join('')
  return method.toLowerCase() + camel
}

type Json = Record<string, unknown>

/** A response documented as an HTML page (pages send their bytes themselves: documented, never serialized by Fastify). */
export const htmlResponse = (description: string) => ({ description, content: { 'text/html': { schema: { type: 'string' } } } })

/**
 * Routes a library registers with `schema: { hide: true }`, by the URL @fastify/swagger sees: the URL
 * and schema the document gives them instead. swagger-ui's page answers at /docs and /docs/, and
 * the hook sees only the latter; its assets stay hidden.
 */
const LIBRARY_ROUTES: Record<string, { url: string, schema: Json }> = {
  'GET /docs/': {
    url: '/docs',
    schema: {
      tags: ['docs'],
      summary: 'Swagger UI rendering this document',
      response: { 200: htmlResponse('The Swagger UI page (its scripts and styles load from /docs/static/)') }
    }
  }
}

/**
 * What a WebSocket route's GET upgrade adds to the route's own schema, which says what its messages
 * are. @fastify/websocket hides every `websocket: true` route from the document; the handshake and
 * the token's places are the same for all of them (README "WebSocket ingest").
 */
const UPGRADE_DESCRIPTION = `

**Connecting.** A GET with \`Upgrade: websocket\` (RFC 6455), answered \`101 Switching Protocols\`. Offer the
subprotocol \`quiver.v1\` (the server answers \`quiver.v1\` only). The token goes in the \`Authorization: Bearer <jwt>\`
header, as a second subprotocol \`bearer.<jwt>\` (browsers cannot set headers; the token is never echoed), or as
\`?access_token=<jwt>\` (redacted from logs); subprotocol and query tokens count only on a real upgrade. A refused
upgrade (no or bad token, missing role, unknown topic, too many connections, overload) gets a plain HTTP answer with
the JSON error body before any switch.`

const UPGRADE_HEADERS = {
  type: 'object',
  properties: {
    Upgrade: { type: 'string', enum: ['websocket'] },
    Connection: { type: 'string', description: 'Contains `Upgrade`' },
    'Sec-WebSocket-Key': { type: 'string', description: 'Base64 of 16 random bytes (RFC 6455)' },
    'Sec-WebSocket-Version': { type: 'string', enum: ['13'] },
    'Sec-WebSocket-Protocol': {
      type: 'string',
      description: '`quiver.v1`, then `bearer.<jwt>` where no Authorization header can be set (`quiver.v1, bearer.eyJ…`). Offered protocols must include `quiver.v1`.'
    }
  },
  required: ['Upgrade', 'Connection', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version']
}

const SWITCHING_PROTOCOLS = {
  type: 'null',
  description: 'Switching Protocols: the WebSocket is open; messages as described above',
  headers: {
    Upgrade: { type: 'string', enum: ['websocket'] },
    Connection: { type: 'string', enum: ['Upgrade'] },
    'Sec-WebSocket-Accept': { type: 'string' },
    'Sec-WebSocket-Protocol': { type: 'string', enum: ['quiver.v1'], description: 'When the client offered `quiver.v1`; never the token' }
  }
}

function asUpgrade (schema: Json): Json {
  const { hide: _hidden, ...rest } = schema
  return {
    ...rest,
    description: `${rest.description ?? ''}${UPGRADE_DESCRIPTION}`,
    headers: UPGRADE_HEADERS,
    security: [...(rest.security as unknown[] ?? [{ bearerAuth: [] }]), { accessTokenQuery: [] }],
    response: { 101: SWITCHING_PROTOCOLS, ...(rest.response as Json) }
  }
}

/** Binary media types get `format: binary` beside 3.1's contentMediaType (generators read the former). */
function markBinary (content: unknown): void {
  if (content === null || typeof content !== 'object') return
  for (const media of Object.values(content as Record<string, { schema?: Json }>)) {
    const s = media?.schema
    if (s && s.type === 'string' && typeof s.contentMediaType === 'string') s.format = 'binary'
  }
}

/** Properties with a default are optional to the caller, whatever the validator fills in. */
function defaultsNotRequired (schema: unknown): unknown {
  if (schema === null || typeof schema !== 'object') return schema
  const s = schema as { properties?: Record<string, { default?: unknown }>, required?: string[] }
  if (!s.properties || !Array.isArray(s.required)) return schema
  const required = s.required.filter((k) => s.properties![k]?.default === undefined)
  return { ...s, required }
}

/** The per-route part: what @fastify/swagger's `transform` returns for one route. */
export function shapeRouteSchema (method: string, url: string, schema: Json): Json {
  const out: Json = { ...schema }
  out.operationId ??= OPERATION_IDS[`${method} ${url}`] ?? derivedOperationId(method, url)
  // A route without a declared security requirement needs no token: say so, or generators
  // inherit a global one and send credentials nobody asked for.
  out.security ??= []
  if (out.querystring) out.querystring = defaultsNotRequired(out.querystring)
  const body = out.body as { content?: unknown } | undefined
  if (body?.content) markBinary(body.content)
  for (const r of Object.values((out.response ?? {}) as Record<string, { content?: unknown }>)) markBinary(r?.content)
  return out
}

/**
 * The whole of @fastify/swagger's `transform` for one route. What a route documents but Fastify must
 * not compile comes under `x-openapi-body` (a body the handler streams itself) and `x-openapi-response`
 * (answers the handler sends as text, HTML or a prebuilt object): merged in here, never validated
 * or serialized. Library pages get their schema above; WebSocket routes become their GET upgrade.
 */
export function documentRoute (method: string, seenUrl: string, schema: Json | undefined, route: { websocket?: boolean }): { url: string, schema: Json } {
  const library = LIBRARY_ROUTES[`${method} ${seenUrl}`]
  const url = library?.url ?? seenUrl
  const { 'x-openapi-body': body, 'x-openapi-response': response, ...rest }: Json = { ...(library?.schema ?? schema) }
  if (body) rest.body = body
  if (response) rest.response = { ...(rest.response as Json), ...(response as Json) }
  return { url, schema: shapeRouteSchema(method, url, route.websocket === true ? asUpgrade(rest) : rest) }
}

/**
 * Operations of routes @fastify/swagger never sees: registered before its onRoute hook exists
 * (plugins/external loads in name order, metrics before swagger). Given as the document says them.
 */
const UNSEEN_OPERATIONS: Record<string, Json> = {
  'GET /metrics': {
    operationId: OPERATION_IDS['GET /metrics'],
    tags: ['ops'],
    summary: 'Prometheus metrics',
    description: 'Requests, rows, bytes, flushes, upload latency and errors, auth failures by reason, buffered bytes and ' +
      'WebSocket connections, in the Prometheus text exposition format 0.0.4. Open unless `METRICS_TOKEN` is set; then ' +
      '`Authorization: Bearer <METRICS_TOKEN>` (not a JWT).',
    security: [{}, { metricsToken: [] }],
    responses: {
      200: { description: 'The metrics (`text/plain; version=0.0.4; charset=utf-8`)', content: { 'text/plain': { schema: { type: 'string' } } } },
      401: {
        description: '`METRICS_TOKEN` is set and the request does not carry it (QUIVER_UNAUTHORIZED)',
        headers: { 'WWW-Authenticate': { schema: { type: 'string', enum: ['Bearer error="invalid_token"'] } } },
        content: { 'application/json': { schema: JSON.parse(JSON.stringify(ErrorSchema)) } }
      }
    }
  }
}

/** For @fastify/swagger's `transformObject`: adds each unseen operation whose route exists and the document lacks. */
export function addUnseenOperations<D extends { paths?: unknown }> (doc: D, hasRoute: (method: string, url: string) => boolean): D {
  const paths = ((doc as { paths?: Record<string, Json | undefined> }).paths ??= {})
  for (const [key, operation] of Object.entries(UNSEEN_OPERATIONS)) {
    const [method, url] = key.split(' ')
    const m = method.toLowerCase()
    if (!hasRoute(method, url) || paths[url]?.[m] !== undefined) continue
    paths[url] = { ...paths[url], [m]: operation }
  }
  return doc
}

/**
 * Answers that come from outside a route's own handler, so no route schema lists them: the rate
 * limit (every /v1 operation), the HTTP layer's own refusals (src/http/client-error.ts: headers
 * too large everywhere under /v1, a body not received in time on ingest), and a malformed topic
 * name (every operation with a `{topic}`). Added where the operation does not say them already.
 */
const COMMON_ANSWERS: Array<{ status: string, applies: (method: string, path: string) => boolean, description: string, retryAfter?: boolean }> = [
  {
    status: '400',
    applies: (_m, path) => path.includes('{topic}'),
    description: 'The topic name does not match `^[a-z][a-z0-9_]{0,62}$` (QUIVER_INVALID_TOPIC_NAME)'
  },
  {
    status: '408',
    applies: (method, path) => method === 'post' && path === '/v1/topics/{topic}/records',
    description: 'The request (headers and body) was not received within REQUEST_TIMEOUT_MS (QUIVER_REQUEST_TIMEOUT); the connection is closed and nothing is stored'
  },
  {
    status: '426',
    applies: (_m, path) => path.endsWith('/stream') || path.endsWith('/tail'),
    description: 'A plain GET without `Upgrade: websocket` (QUIVER_UPGRADE_REQUIRED)'
  },
  {
    status: '429',
    applies: (_m, path) => path.startsWith('/v1/'),
    description: 'More than RATE_LIMIT_MAX requests this minute for this principal (QUIVER_RATE_LIMITED; off by default)',
    retryAfter: true
  },
  {
    status: '431',
    applies: (_m, path) => path.startsWith('/v1/'),
    description: 'Request headers are too large (QUIVER_HEADERS_TOO_LARGE); the connection is closed'
  }
]

/** For `transformObject`: documents COMMON_ANSWERS on the operations they apply to. */
export function addCommonAnswers (doc: { paths?: unknown }): void {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, { responses?: Record<string, unknown> }>>
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const responses = operation.responses ??= {}
      for (const answer of COMMON_ANSWERS) {
        if (!answer.applies(method, path) || answer.status in responses) continue
        responses[answer.status] = {
          description: answer.description,
          ...(answer.retryAfter === true ? { headers: { 'Retry-After': { description: 'seconds to wait', schema: { type: 'integer' } } } } : {}),
          content: { 'application/json': { schema: JSON.parse(JSON.stringify(ErrorSchema)) } }
        }
      }
    }
  }
}
