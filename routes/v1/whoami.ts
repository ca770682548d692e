import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { RoleSchema } from '../../src/auth/schemas.ts'
import { errorResponses } from '../../src/http/error-schema.ts'

const WhoamiSchema = Type.Object({
  sub: Type.String(),
  username: Type.String(),
  tokenUse: Type.String({ description: 'access or id (Cognito), oidc, local' }),
  groups: Type.Array(Type.String()),
  scopes: Type.Array(Type.String()),
  roles: Type.Array(RoleSchema)
})

const whoamiRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/whoami', {
    config: { role: 'any' },
    schema: {
      tags: ['auth'],
      summary: 'The caller as the gateway sees it: identity, groups, scopes and the roles they grant',
      security: [{ bearerAuth: [] }],
      response: { 200: WhoamiSchema, ...errorResponses(401, 503) }
    }
  }, async (request) => {
    // authenticate guarantees a principal; the response schema keeps only the public fields.
    return request.principal!
  })
}

export default whoamiRoute
