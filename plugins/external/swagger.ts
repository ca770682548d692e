import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { SECURITY_SCHEMES, addCommonAnswers, addUnseenOperations, documentRoute } from '../../src/openapi.ts'

const DESCRIPTION = `Quiver ingests Apache Arrow IPC (and NDJSON/JSON) over HTTP and WebSocket and lands it
as Hive-partitioned Parquet on S3 or a local directory.

Every \`/v1\` route needs \`Authorization: Bearer <jwt>\` (Cognito, OIDC or the built-in local provider).

WebSocket routes are listed as their GET upgrade (101 Switching Protocols), the message protocol in their description:
- \`GET /v1/topics/{topic}/stream\` (write): subprotocol \`quiver.v1\`; token in the Authorization header,
  as subprotocol \`bearer.<jwt>\` or \`?access_token=\`. Each binary message is one complete Arrow IPC
  stream; the server answers \`{"type":"ack","seq":n,"rows":r}\` once durable, in order, or
  \`{"type":"error","seq":n,"code":"QUIVER_…","message":"…"}\`.
- \`GET /v1/topics/{topic}/tail\` (read): every batch accepted from then on as a binary Arrow IPC stream message.`

type Json = Record<string, unknown>

/**
 * Query parameters named by the data, not by the route (partition filters: `?tenant=acme&day=02`,
 * after each topic's columns), are what a route's querystring allows in `additionalProperties`.
 * @fastify/swagger documents `properties` only; they become one object parameter, `partitions`,
 * whose keys are sent as parameters of their own (`style: form`, exploded: `?tenant=acme`, never
 * `partitions=`). Only the document changes: Fastify validates the route's own schema.
 */
const FREE_FORM_QUERY = 'partitions'

function freeFormQuery (schema: Json): Json {
  const query = schema.querystring as Json | undefined
  const each = query?.additionalProperties
  if (query === undefined || each === null || typeof each !== 'object') return schema
  const { additionalProperties: _free, ...rest } = query
  const { description, ...value } = each as Json
  const parameter = { type: 'object', additionalProperties: value, description, style: 'form', explode: true }
  return { ...schema, querystring: { ...rest, properties: { ...(rest.properties as Json | undefined), [FREE_FORM_QUERY]: parameter } } }
}

/**
 * @fastify/swagger takes `style`/`explode` from a whole querystring only: a parameter whose schema
 * carries them (the free-form one above) gets them itself, and its schema goes without.
 */
function parameterStyles (doc: { paths?: unknown }): void {
  for (const operations of Object.values((doc.paths ?? {}) as Record<string, Record<string, { parameters?: Json[] }>>)) {
    for (const operation of Object.values(operations)) {
      for (const p of operation.parameters ?? []) {
        const { style, explode, ...schema } = (p.schema ?? {}) as Json
        if (p.in === 'query' && style !== undefined) Object.assign(p, { style, explode, schema })
      }
    }
  }
}

/** The operations' groups, in the order the document lists them. */
const TAGS: Record<string, string> = {
  ops: 'Health, readiness and metrics',
  auth: 'Identity and tokens',
  topics: 'Topic catalog',
  ingest: 'Writing rows',
  read: 'Reading committed data',
  admin: 'Administration',
  docs: 'This document, its Swagger UI and the browser console'
}

async function swaggerPlugin (fastify: FastifyInstance): Promise<void> {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Quiver', version: '0.1.0', description: DESCRIPTION },
      components: { securitySchemes: SECURITY_SCHEMES },
      tags: Object.entries(TAGS).map(([name, description]) => ({ name, description }))
    },
    // `x-openapi-body`/`x-openapi-response` (documented, never compiled by Fastify), WebSocket
    // upgrades and library pages unhidden, operationIds, `security: []` on public routes, binary
    // formats: src/openapi.ts.
    transform: ({ schema, url, route }) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method]
      const shaped = documentRoute(methods[0], url, schema as Json | undefined, route)
      return { schema: freeFormQuery(shaped.schema) as typeof schema, url: shaped.url }
    },
    transformObject: (doc) => {
      const object = 'openapiObject' in doc ? doc.openapiObject : doc.swaggerObject
      parameterStyles(object)
      addCommonAnswers(object)
      // Routes registered before this plugin (/metrics) never reach its onRoute hook.
      return addUnseenOperations(object, (method, url) => fastify.hasRoute({ method, url }))
    }
  })
  await fastify.register(swaggerUi, { routePrefix: '/docs' })
  // `servers` names the gateway the document was fetched from, so a client generated from it
  // (or swagger-client loading it) calls that gateway without configuration.
  fastify.get('/openapi.json', {
    schema: {
      tags: ['docs'],
      summary: 'This OpenAPI 3.1 document',
      description: 'Every route, with `servers` naming the gateway it was fetched from.',
      'x-openapi-response': {
        200: {
          description: 'The OpenAPI 3.1 document',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['openapi', 'info', 'paths'],
                properties: { openapi: { type: 'string', pattern: '^3\\.1\\.' }, info: { type: 'object' }, paths: { type: 'object' } }
              }
            }
          }
        }
      }
    }
  }, async (request) => ({
    ...fastify.swagger(),
    servers: [{ url: `${request.protocol}://${request.host}`, description: 'this gateway' }]
  }))
}

export default fp(swaggerPlugin, { name: 'swagger' })
