import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'

const CHECK_TIMEOUT_MS = 2000
const CACHE_MS = 500

const Checks = Type.Object({
  storage: Type.String({ description: '"ok", or why storage is not usable' }),
  auth: Type.String({ description: '"ok", or why the identity provider is not usable' })
})

type Result = { ok: boolean, reason?: string }

function withTimeout (p: Promise<Result>, ms: number): Promise<Result> {
  let timer: NodeJS.Timeout
  const timeout = new Promise<Result>((resolve) => { timer = setTimeout(() => resolve({ ok: false, reason: `no answer within ${ms} ms` }), ms) })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

export default async function (fastify: FastifyInstance): Promise<void> {
  // Load balancers poll often: one probe per CACHE_MS, shared by concurrent requests.
  let cached: { at: number, value: Promise<{ storage: Result, auth: Result }> } | null = null

  async function probe () {
    const storage = withTimeout(fastify.storage.check().then(
      () => ({ ok: true }),
      // Unauthenticated route: name the failure (ECONNREFUSED, NoSuchBucket…), not hosts or paths.
      (err: NodeJS.ErrnoException) => ({ ok: false, reason: `storage unavailable: ${err.code ?? err.name}` })
    ), CHECK_TIMEOUT_MS)
    const auth = typeof fastify.authStatus === 'function'
      ? withTimeout(fastify.authStatus().catch((err: Error) => ({ ok: false, reason: err.message })), CHECK_TIMEOUT_MS)
      : Promise.resolve({ ok: true })
    return { storage: await storage, auth: await auth }
  }

  fastify.get('/readyz', {
    schema: {
      tags: ['ops'],
      summary: 'Readiness: storage and the identity provider are usable',
      response: {
        200: Type.Object({ status: Type.Literal('ready'), checks: Checks }),
        503: Type.Object({ status: Type.Literal('unavailable'), checks: Checks }, { description: 'Some dependency is not usable; checks name the reason' })
      }
    }
  }, async (_request, reply) => {
    if (!cached || Date.now() - cached.at > CACHE_MS) cached = { at: Date.now(), value: probe() }
    const { storage, auth } = await cached.value
    const checks = { storage: storage.ok ? 'ok' : storage.reason ?? 'failing', auth: auth.ok ? 'ok' : auth.reason ?? 'failing' }
    if (storage.ok && auth.ok) return { status: 'ready' as const, checks }
    reply.code(503)
    return { status: 'unavailable' as const, checks }
  })
}
