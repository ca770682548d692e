import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { ErrorSchema, RoleSchema } from '../../src/auth/schemas.ts'

const WhoamiSchema = Type.Object({
  sub: Type.String(),
  username: Type.String(),
  tokenUse: Type.String({ description: 'access or id (Cognito), oidc, local' }),
  groups: Type.Array(Type.String()),
  scopes: Type.Array(Type.String()),
  roles: Type.Array(RoleSchema)
})

export default async function (fastify: FastifyInstance): Promise<void> {
  fastify.get('/whoami', {
    onRequest: fastify.authenticate,
    schema: {
      tags: ['auth'],
      summary: 'The caller as the gateway sees it: identity, groups, scopes and the roles they grant',
      security: [{ bearerAuth: [] }],
      response: { 200: WhoamiSchema, 401: ErrorSchema, 503: ErrorSchema }
    }
  }, async (request) => {
    // authenticate guarantees a principal; the response schema keeps only the public fields.
    return request.principal!
  })
}
