import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

const DESCRIPTION = `Quiver ingests Apache Arrow IPC (and NDJSON/JSON) over HTTP and WebSocket and lands it
as Hive-partitioned Parquet on S3 or a local directory.

Every \`/v1\` route needs \`Authorization: Bearer <jwt>\` (Cognito, OIDC or the built-in local provider).

WebSocket routes (not expressible in OpenAPI):
- \`GET /v1/topics/{topic}/stream\` (write): subprotocol \`quiver.v1\`; token in the Authorization header,
  as subprotocol \`bearer.<jwt>\` or \`?access_token=\`. Each binary message is one complete Arrow IPC
  stream; the server answers \`{"type":"ack","seq":n,"rows":r}\` once durable, in order, or
  \`{"type":"error","seq":n,"code":"QUIVER_…","message":"…"}\`.
- \`GET /v1/topics/{topic}/tail\` (read): every batch accepted from then on as a binary Arrow IPC stream message.`

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
      tags: [
        { name: 'ops', description: 'Health, readiness and metrics' },
        { name: 'auth', description: 'Identity and tokens' },
        { name: 'topics', description: 'Topic catalog' },
        { name: 'ingest', description: 'Writing rows' },
        { name: 'read', description: 'Reading committed data' },
        { name: 'admin', description: 'Administration' }
      ]
    },
    // A route whose body is a stream it reads itself describes that body under `x-openapi-body`:
    // documented for clients, never validated by Fastify.
    transform: ({ schema, url }) => {
      const { 'x-openapi-body': body, ...rest } = (schema ?? {}) as Record<string, unknown>
      return { schema: (body ? { ...rest, body } : schema) as typeof schema, url }
    }
  })
  await fastify.register(swaggerUi, { routePrefix: '/docs' })
  fastify.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger())
}

export default fp(swaggerPlugin, { name: 'swagger' })
