import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { NotFoundError, TokenTtlTooLongError } from '../../../src/errors.ts'
import { RoleSchema } from '../../../src/auth/schemas.ts'
import { errorResponses } from '../../../src/http/error-schema.ts'
import { JTI_PATTERN } from '../../../src/auth/revocations.ts'
import { guarded } from '../../../src/pipeline/guard.ts'

/** Minted subjects are marked as services, so a minted token never passes for a person of an identity provider. */
export const MINTED_SUBJECT_PREFIX = 'svc:'

const MintBodySchema = Type.Object({
  subject: Type.String({ minLength: 1, maxLength: 256, description: 'the service name; the token\'s sub and username are `svc:<subject>`' }),
  roles: Type.Array(RoleSchema, { minItems: 1, maxItems: 3, uniqueItems: true }),
  ttlSeconds: Type.Integer({ minimum: 1, default: 3600, description: 'at most LOCAL_TOKEN_MAX_TTL_S (default 604800); over it: 400 QUIVER_TOKEN_TTL_TOO_LONG' })
}, { additionalProperties: false })

const MintedSchema = Type.Object({
  token: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
  jti: Type.String({ description: 'revoke with DELETE /v1/admin/tokens/{jti}' }),
  subject: Type.String()
})

const JtiParamsSchema = Type.Object({ jti: Type.String({ pattern: JTI_PATTERN }) })

const tokensRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const localOnly = () => {
    // Cognito and OIDC tokens come from their own issuers; Quiver only signs (and revokes) for itself.
    if (!fastify.localTokens || !fastify.tokenRevocations) throw new NotFoundError('Token minting needs the local auth provider (AUTH_PROVIDERS includes local)')
    return { local: fastify.localTokens, revocations: fastify.tokenRevocations }
  }

  fastify.post('/tokens', {
    config: { role: 'admin' },
    schema: {
      tags: ['admin', 'auth'],
      summary: 'Mint a token signed by the local provider (for services); 404 QUIVER_NOT_FOUND unless AUTH_PROVIDERS includes local',
      security: [{ bearerAuth: [] }],
      body: MintBodySchema,
      response: { 200: MintedSchema, ...errorResponses(400, 401, 403, 404, 503) }
    }
  }, async (request) => {
    const { local, revocations } = localOnly()
    const { subject, roles, ttlSeconds } = request.body
    const max = fastify.config.LOCAL_TOKEN_MAX_TTL_S
    if (ttlSeconds > max) throw new TokenTtlTooLongError(ttlSeconds, max)
    const sub = subject.startsWith(MINTED_SUBJECT_PREFIX) ? subject : `${MINTED_SUBJECT_PREFIX}${subject}`
    const minted = local.mint({ subject: sub, roles, ttlSeconds })
    // Recorded before it is handed out, so every instance can revoke it.
    // Storage failing: 503 with Retry-After, and no token is handed out.
    await guarded(revocations.recordMint({ jti: minted.jti, sub, roles, exp: Math.floor(Date.parse(minted.expiresAt) / 1000), mintedAt: new Date().toISOString() }))
    request.log.info({ jti: minted.jti, sub, roles, by: request.principal?.sub }, 'token minted')
    return minted
  })

  fastify.delete('/tokens/:jti', {
    config: { role: 'admin' },
    schema: {
      tags: ['admin', 'auth'],
      summary: 'Revoke a minted token on every instance sharing the storage (within LOCAL_TOKEN_REVOCATION_POLL_S)',
      security: [{ bearerAuth: [] }],
      params: JtiParamsSchema,
      response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 503) }
    }
  }, async (request, reply) => {
    const { revocations } = localOnly()
    const { jti } = request.params
    const record = await guarded(revocations.minted(jti))
    if (record === null) throw new NotFoundError(`No minted token has jti ${jti}`)
    await guarded(revocations.revoke(jti, record.exp))
    request.log.info({ jti, sub: record.sub, by: request.principal?.sub }, 'token revoked')
    return reply.code(204).send(null)
  })
}

export default tokensRoutes
