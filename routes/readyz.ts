import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'

const CHECK_TIMEOUT_MS = 2000
const CACHE_MS = 500

/**
 * What an unauthenticated caller may learn: stable codes, never issuer URLs, hosts or error text.
 * The full reason goes to the log (warn, when it changes).
 */
const STORAGE_REASONS = ['ok', 'storage_timeout', 'storage_unreachable', 'storage_not_found', 'storage_access_denied', 'storage_error'] as const
const AUTH_REASONS = ['ok', 'auth_timeout', 'auth_keys_unavailable'] as const
type StorageReason = typeof STORAGE_REASONS[number]
type AuthReason = typeof AUTH_REASONS[number]

const Checks = Type.Object({
  storage: Type.Union(STORAGE_REASONS.map((r) => Type.Literal(r)), { description: '"ok", or a stable code for why storage is not usable' }),
  auth: Type.Union(AUTH_REASONS.map((r) => Type.Literal(r)), { description: '"ok", or a stable code for why an identity provider\'s keys cannot be loaded' })
})

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT'])
const NOT_FOUND = new Set(['NotFound', 'NoSuchBucket', 'ENOENT', 'ENOTDIR'])
const DENIED = new Set(['AccessDenied', 'Forbidden', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'EACCES', 'EPERM'])

function storageReason (err: NodeJS.ErrnoException): StorageReason {
  const code = err.code ?? err.name
  if (UNREACHABLE.has(code)) return 'storage_unreachable'
  if (NOT_FOUND.has(code)) return 'storage_not_found'
  if (DENIED.has(code)) return 'storage_access_denied'
  return 'storage_error'
}

interface Check<R> { reason: R, detail?: string }

function withTimeout<R> (p: Promise<Check<R>>, timeoutReason: R): Promise<Check<R>> {
  let timer: NodeJS.Timeout
  const timeout = new Promise<Check<R>>((resolve) => {
    timer = setTimeout(() => resolve({ reason: timeoutReason, detail: `no answer within ${CHECK_TIMEOUT_MS} ms` }), CHECK_TIMEOUT_MS)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

export default async function (fastify: FastifyInstance): Promise<void> {
  // Load balancers poll often: one probe per CACHE_MS, shared by concurrent requests.
  let cached: { at: number, value: Promise<{ storage: Check<StorageReason>, auth: Check<AuthReason> }> } | null = null
  let logged = ''

  async function probe () {
    const storage = withTimeout<StorageReason>(fastify.storage.check().then(
      () => ({ reason: 'ok' }),
      (err: NodeJS.ErrnoException) => ({ reason: storageReason(err), detail: `${err.code ?? err.name}: ${err.message}` })
    ), 'storage_timeout')
    const auth = typeof fastify.authStatus === 'function'
      ? withTimeout<AuthReason>(fastify.authStatus().then(
        (s) => s.ok ? { reason: 'ok' } : { reason: 'auth_keys_unavailable', detail: s.reason },
        (err: Error) => ({ reason: 'auth_keys_unavailable', detail: err.message })
      ), 'auth_timeout')
      : Promise.resolve<Check<AuthReason>>({ reason: 'ok' })
    const result = { storage: await storage, auth: await auth }
    const line = JSON.stringify(result)
    if (line !== logged) {
      logged = line
      if (result.storage.reason !== 'ok' || result.auth.reason !== 'ok') fastify.log.warn({ readiness: result }, 'not ready')
    }
    return result
  }

  fastify.get('/readyz', {
    schema: {
      tags: ['ops'],
      summary: 'Readiness: storage and the identity provider are usable',
      response: {
        200: Type.Object({ status: Type.Literal('ready'), checks: Checks }),
        503: Type.Object({ status: Type.Literal('unavailable'), checks: Checks }, { description: 'Some dependency is not usable; checks give a stable reason code (details in the log)' })
      }
    }
  }, async (_request, reply) => {
    if (!cached || Date.now() - cached.at > CACHE_MS) cached = { at: Date.now(), value: probe() }
    const { storage, auth } = await cached.value
    const checks = { storage: storage.reason, auth: auth.reason }
    if (storage.reason === 'ok' && auth.reason === 'ok') return { status: 'ready' as const, checks }
    reply.code(503)
    return { status: 'unavailable' as const, checks }
  })
}
