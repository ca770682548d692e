/**
 * Makes the document @fastify/swagger generates usable by client generators as it is served
 * (openapi-typescript, @hey-api/openapi-ts, swagger-client, openapi-generator): one operationId per
 * operation named for what it does, `security: []` where no token is needed, `format: binary` on
 * every binary body, and parameters that have a default not marked required. Plain JSON work on
 * the route schema, keyed by method and URL, so route files need not repeat any of it.
 */

/** Names by `METHOD url` (Fastify's URL syntax). A route missing here gets one derived from its path. */
export const OPERATION_IDS: Record<string, string> = {
  'GET /healthz': 'checkLiveness',
  'GET /readyz': 'checkReadiness',
  'GET /metrics': 'getMetrics',
  'GET /.well-known/jwks.json': 'getLocalJwks',
  'GET /v1/whoami': 'whoAmI',
  'POST /v1/topics': 'createTopic',
  'GET /v1/topics': 'listTopics',
  'GET /v1/topics/:topic': 'getTopic',
  'PATCH /v1/topics/:topic': 'evolveTopicSchema',
  'DELETE /v1/topics/:topic': 'deleteTopic',
  'POST /v1/topics/:topic/records': 'ingestRecords',
  'GET /v1/topics/:topic/records': 'readRecords',
  'GET /v1/topics/:topic/files': 'listFiles',
  'POST /v1/admin/flush': 'flushAll',
  'GET /v1/admin/stats': 'getStats',
  'POST /v1/admin/tokens': 'mintToken',
  'DELETE /v1/admin/tokens/:jti': 'revokeToken'
}

/** `DELETE /v1/admin/things/:id` → `deleteAdminThingsById`: unique and stable for an unnamed route. */
export function derivedOperationId (method: string, url: string): string {
  const words = url.split('/').filter(Boolean).map((s) => s.startsWith(':') ? `by-${s.slice(1)}` : s)
  const camel = words.join('-').split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join('')
  return method.toLowerCase() + camel
}

type Json = Record<string, unknown>

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
