import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { NotFoundError } from '../../../src/errors.ts'
import { ErrorSchema, RoleSchema } from '../../../src/auth/schemas.ts'
import { MAX_LOCAL_TTL_SECONDS } from '../../../src/auth/local-keys.ts'

const MintBodySchema = Type.Object({
  subject: Type.String({ minLength: 1, maxLength: 256, description: 'becomes the token\'s sub and username' }),
  roles: Type.Array(RoleSchema, { minItems: 1, maxItems: 3, uniqueItems: true }),
  ttlSeconds: Type.Integer({ minimum: 1, maximum: MAX_LOCAL_TTL_SECONDS, default: 3600 })
}, { additionalProperties: false })

const MintedSchema = Type.Object({
  token: Type.String(),
  expiresAt: Type.String({ format: 'date-time' })
})

export default async function (fastify: FastifyInstance): Promise<void> {
  fastify.withTypeProvider<TypeBoxTypeProvider>().post('/tokens', {
    onRequest: fastify.requireRole('admin'),
    schema: {
      tags: ['admin', 'auth'],
      summary: 'Mint a token signed by the local provider (for services); 404 QUIVER_NOT_FOUND unless AUTH_PROVIDERS includes local',
      security: [{ bearerAuth: [] }],
      body: MintBodySchema,
      response: { 200: MintedSchema, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema }
    }
  }, async (request) => {
    const local = fastify.localTokens
    // Cognito and OIDC tokens come from their own issuers; Quiver only signs for itself.
    if (!local) throw new NotFoundError('Token minting needs the local auth provider (AUTH_PROVIDERS includes local)')
    return local.mint(request.body)
  })
}
