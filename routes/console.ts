import { readFileSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createHash } from 'node:crypto'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { LocalOnlyError, NotFoundError } from '../src/errors.ts'
import { ErrorSchema } from '../src/auth/schemas.ts'

const CONSOLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'console')
// apache-arrow's self-contained UMD bundle (no bare imports to map) sets window.Arrow.
const ARROW_BUNDLE = join(dirname(createRequire(import.meta.url).resolve('apache-arrow')), 'Arrow.es2015.min.js')
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' }
const LOCAL_TOKEN_TTL_SECONDS = 15 * 60
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

interface Asset { body: Buffer, type: string, etag: string }

function asset (file: string): Asset {
  const body = readFileSync(file)
  return { body, type: TYPES[extname(file)], etag: '"' + createHash('sha1').update(body).digest('base64url') + '"' }
}

/** Everything the page may load, read once: a fixed allowlist, so no path ever reaches the filesystem. */
function loadAssets (): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  for (const name of readdirSync(CONSOLE_DIR)) if (TYPES[extname(name)]) assets.set(name, asset(join(CONSOLE_DIR, name)))
  assets.set('vendor/apache-arrow.js', asset(ARROW_BUNDLE))
  return assets
}

/**
 * Why a request may not receive a local token, or null. Loopback only, judged from the TCP peer
 * (never X-Forwarded-For): a proxy on the same host would make every caller look local, so any
 * forwarding header refuses. The Host check defeats DNS rebinding; the custom header makes a
 * cross-origin page go through a CORS preflight it cannot pass.
 */
export function localTokenRefusal (request: FastifyRequest): string | null {
  const peer = request.raw.socket.remoteAddress ?? ''
  if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(peer)) return 'not a loopback connection'
  if (request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined) return 'forwarded by a proxy'
  const host = (request.headers.host ?? '').replace(/:\d+$/, '').toLowerCase()
  if (!LOOPBACK_HOSTS.has(host)) return 'Host is not a loopback name'
  if (request.headers['x-quiver-console'] !== '1') return 'missing X-Quiver-Console header'
  const site = request.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin') return 'cross-site request'
  return null
}

export default async function (fastify: FastifyInstance): Promise<void> {
  const assets = loadAssets()

  function send (reply: FastifyReply, request: FastifyRequest, a: Asset) {
    // CSP, nosniff and friends come from the global helmet plugin (same-origin only).
    reply.header('cache-control', 'no-cache').header('etag', a.etag)
    if (request.headers['if-none-match'] === a.etag) return reply.code(304).send()
    return reply.type(a.type).send(a.body)
  }

  const page = { schema: { hide: true } }
  fastify.get('/console', page, (request, reply) => send(reply, request, assets.get('index.html')!))
  fastify.get('/console/', page, (request, reply) => send(reply, request, assets.get('index.html')!))
  fastify.get('/console/*', page, (request, reply) => {
    const a = assets.get((request.params as { '*': string })['*'])
    if (!a) throw new NotFoundError(`Route GET ${request.url.split('?')[0]} not found`)
    return send(reply, request, a)
  })

  const localOn = () => fastify.localTokens !== null && fastify.localTokens !== undefined
  fastify.get('/console/info', {
    schema: {
      tags: ['auth'],
      summary: 'What the browser console may offer: whether a local token can be requested',
      response: { 200: Type.Object({ localToken: Type.Boolean() }) }
    }
  }, async (request) => ({ localToken: localOn() && localTokenRefusal(request) === null }))

  fastify.get('/console/local-token', {
    schema: {
      tags: ['auth'],
      summary: 'A 15-minute write token from the local provider, for the console on the same machine only',
      description: 'Only with AUTH_PROVIDERS including local, over a loopback connection with a loopback Host, no forwarding ' +
        'headers, and the header `X-Quiver-Console: 1`. Write (which includes read) is the most it grants: creating topics ' +
        'by hand needs an admin token.',
      response: { 200: Type.Object({ token: Type.String(), expiresAt: Type.String({ format: 'date-time' }) }), 403: ErrorSchema, 404: ErrorSchema }
    }
  }, async (request, reply) => {
    const local = fastify.localTokens
    if (!local) throw new NotFoundError('Local tokens need the local auth provider (AUTH_PROVIDERS includes local)')
    const refusal = localTokenRefusal(request)
    if (refusal !== null) throw new LocalOnlyError(refusal)
    reply.header('cache-control', 'no-store')
    return local.mint({ subject: 'console', roles: ['write'], ttlSeconds: LOCAL_TOKEN_TTL_SECONDS })
  })
}
