import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyPluginOptions } from 'fastify'
import AutoLoad from '@fastify/autoload'
import type { Config } from '../config/schema.ts'

const root = join(fileURLToPath(import.meta.url), '..', '..')

// Running from the TypeScript sources (npm start, tests: both under tsx): tell autoload to load
// .ts plugins. Built code (dist/) loads .js and needs nothing.
if (import.meta.url.endsWith('.ts')) process.env.FASTIFY_AUTOLOAD_TYPESCRIPT ??= '1'

export interface AppOptions extends FastifyPluginOptions {
  config: Config
}

/**
 * The whole gateway as one plugin: third-party wiring, then Quiver's own decorators, then
 * routes. `src/server.ts` and the tests' `buildApp` helper are the only places that create
 * a Fastify instance around it.
 */
export default async function app (fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  fastify.decorate('config', opts.config)

  await fastify.register(AutoLoad, {
    dir: join(root, 'plugins', 'external'),
    options: opts,
    encapsulate: false
  })
  await fastify.register(AutoLoad, {
    dir: join(root, 'plugins', 'app'),
    options: opts,
    encapsulate: false
  })
  await fastify.register(AutoLoad, {
    dir: join(root, 'routes'),
    options: opts,
    autoHooks: true,
    cascadeHooks: true,
    routeParams: true
  })
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}
