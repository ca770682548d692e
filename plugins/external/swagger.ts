import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { shapeRouteSchema } from '../../src/openapi.ts'

const DESCRIPTION = `Quiver ingests Apache Arrow IPC (and NDJSON/JSON) over HTTP and WebSocket and lands it
as Hive-partitioned Parquet on S3 or a local directory.

Every \`/v1\` route needs \`Authorization: Bearer <jwt>\` (Cognito, OIDC or the built-in local provider).

WebSocket routes (not expressible in OpenAPI):
- \`GET /v1/topics/{topic}/stream\` (write): subprotocol \`quiver.v1\`; token in the Authorization header,
  as subprotocol \`bearer.<jwt>\` or \`?access_token=\`. Each binary message is one complete Arrow IPC
  stream; the server answers \`{"type":"ack","seq":n,"rows":r}\` once durable, in order, or
  \`{"type":"error","seq":n,"code":"QUIVER_…","message":"…"}\`.
- \`GET /v1/topics/{topic}/tail\` (read): every batch accepted from then on as a binary Arrow IPC stream message.`

/** The operations' groups, in the order the document lists them. */
const TAGS: Record<string, string> = {
  ops: 'Health, readiness and metrics',
  auth: 'Identity and tokens',
  topics: 'Topic catalog',
  ingest: 'Writing rows',
  read: 'Reading committed data',
  admin: 'Administration'
}

async function swaggerPlugin (fastify: FastifyInstance): Promise<void> {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Quiver', version: '0.1.0', description: DESCRIPTION },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }
        }
      },
      tags: Object.entries(TAGS).map(([name, description]) => ({ name, description }))
    },
    // A route whose body is a stream it reads itself describes that body under `x-openapi-body`:
    // documented for clients, never validated by Fastify.
    // Then operationIds, `security: []` on public routes, binary formats (src/openapi.ts).
    transform: ({ schema, url, route }) => {
      const { 'x-openapi-body': body, ...rest } = (schema ?? {}) as Record<string, unknown>
      const methods = Array.isArray(route.method) ? route.method : [route.method]
      const shaped = shapeRouteSchema(methods[0], url, body ? { ...rest, body } : { ...rest })
      return { schema: shaped as typeof schema, url }
    }
  })
  await fastify.register(swaggerUi, { routePrefix: '/docs' })
  // `servers` names the gateway the document was fetched from, so a client generated from it
  // (or swagger-client loading it) calls that gateway without configuration.
  fastify.get('/openapi.json', { schema: { hide: true } }, async (request) => ({
    ...fastify.swagger(),
    servers: [{ url: `${request.protocol}://${request.host}`, description: 'this gateway' }]
  }))
}

export default fp(swaggerPlugin, { name: 'swagger' })
