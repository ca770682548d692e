import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { NotFoundError } from '../src/errors.ts'
import { ErrorSchema } from '../src/http/error-schema.ts'

const JwksSchema = Type.Object({
  keys: Type.Array(Type.Object({
    kty: Type.String(),
    n: Type.String(),
    e: Type.String(),
    kid: Type.String(),
    alg: Type.String(),
    use: Type.String()
  }))
})

export default async function (fastify: FastifyInstance): Promise<void> {
  fastify.get('/.well-known/jwks.json', {
    schema: {
      tags: ['auth'],
      summary: 'Public key of the local auth provider (404 when it is not enabled)',
      response: { 200: JwksSchema, 404: ErrorSchema }
    }
  }, async (_request, reply) => {
    const local = fastify.localTokens
    if (!local) throw new NotFoundError('The local auth provider is not enabled')
    reply.header('cache-control', 'public, max-age=300')
    return local.jwks()
  })
}
