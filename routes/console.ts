import { readFileSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createHash } from 'node:crypto'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { NotFoundError } from '../src/errors.ts'
import { htmlResponse } from '../src/openapi.ts'

const CONSOLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'console')
// apache-arrow's self-contained UMD bundle (no bare imports to map) sets window.Arrow.
const ARROW_BUNDLE = join(dirname(createRequire(import.meta.url).resolve('apache-arrow')), 'Arrow.es2015.min.js')
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' }

// The gateway's value conversion rules as a browser module (src/console/build.mjs): `npm run build`
// writes it into the built console; run from the sources, it is bundled on its first request.
const CONVERTERS = 'value-converters.js'

interface Asset { body: Buffer, type: string, etag: string }

function asset (file: string, body = readFileSync(file)): Asset {
  return { body, type: TYPES[extname(file)], etag: '"' + createHash('sha1').update(body).digest('base64url') + '"' }
}

let bundled: Promise<Asset> | undefined
function bundleConverters (): Promise<Asset> {
  bundled ??= import(pathToFileURL(join(CONSOLE_DIR, 'build.mjs')).href)
    .then(async (m: { buildValueConverters: () => Promise<string> }) => asset(CONVERTERS, Buffer.from(await m.buildValueConverters())))
  return bundled
}

/** Everything the page may load, read once: a fixed allowlist, so no path ever reaches the filesystem. */
function loadAssets (): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  for (const name of readdirSync(CONSOLE_DIR)) if (TYPES[extname(name)]) assets.set(name, asset(join(CONSOLE_DIR, name)))
  assets.set('vendor/apache-arrow.js', asset(ARROW_BUNDLE))
  return assets
}

export default async function (fastify: FastifyInstance): Promise<void> {
  const assets = loadAssets()

  function send (reply: FastifyReply, request: FastifyRequest, a: Asset) {
    // CSP, nosniff and friends come from the global helmet plugin (same-origin only).
    reply.header('cache-control', 'no-cache').header('etag', a.etag)
    if (request.headers['if-none-match'] === a.etag) return reply.code(304).send()
    return reply.type(a.type).send(a.body)
  }

  // The document lists the page once; its trailing-slash twin and assets stay out of it.
  const documented = {
    schema: {
      tags: ['docs'],
      summary: 'Browser console: stream, upload and tail rows (the page asks for a token)',
      // HTML sent as bytes: documented, never serialized by Fastify.
      'x-openapi-response': {
        200: htmlResponse('The console page; its scripts and styles load from /console/…'),
        304: { type: 'null', description: 'Not Modified: If-None-Match matched the page\'s ETag' }
      }
    }
  }
  const page = { schema: { hide: true } }
  fastify.get('/console', documented, (request, reply) => send(reply, request, assets.get('index.html')!))
  fastify.get('/console/', page, (request, reply) => send(reply, request, assets.get('index.html')!))
  fastify.get('/console/*', page, async (request, reply) => {
    const name = (request.params as { '*': string })['*']
    const a = assets.get(name) ?? (name === CONVERTERS ? await bundleConverters() : undefined)
    if (!a) throw new NotFoundError(`Route GET ${request.url.split('?')[0]} not found`)
    return send(reply, request, a)
  })
}
