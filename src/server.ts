import { readFileSync, realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import app from './app.ts'
import { loadConfig, ConfigError, splitList } from '../config/load.ts'
import { dotenvVariables, likelyTypos } from '../config/typos.ts'
import { clientErrorHandler, timeoutOptions } from './http/client-error.ts'
import { compileOnFirstUse, serializeOnFirstUse } from './http/lazy-compilers.ts'
import { redactUrl } from './log-redact.ts'
import { prepareLocalKeys } from './auth/local-keys.ts'
import { installShutdown, type ShutdownLeft } from './lifecycle/shutdown.ts'
import { watchLauncher } from './lifecycle/parent-watch.ts'
import type { Config } from '../config/schema.ts'

/** Redacted everywhere a token could appear in a log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["sec-websocket-protocol"]',
  'req.headers.cookie',
  'headers.authorization'
]

export function serverOptions (config: Config, o: { pretty?: boolean } = {}): FastifyServerOptions {
  const opts: FastifyServerOptions = {
    logger: {
      level: config.LOG_LEVEL,
      // A person at a terminal reads pretty lines; pipes and log shippers get JSON. The
      // formatting runs in pino's transport thread, off the event loop.
      ...(o.pretty ?? process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: {
        req (req) {
          // access_token may ride in the query string for browsers: never log it.
          return { method: req.method, url: redactUrl(req.url), remoteAddress: req.ip }
        }
      }
    },
    // Streams are read by the routes themselves; this only bounds JSON control bodies.
    bodyLimit: 10 * 1024 * 1024,
    // Slow-body (slowloris) clients are cut after REQUEST_TIMEOUT_MS; see src/http/client-error.ts.
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    clientErrorHandler,
    connectionTimeout: 0,
    keepAliveTimeout: 72_000,
    forceCloseConnections: 'idle',
    // Requests arriving during the close get our 503 QUIVER_SHUTTING_DOWN (plugins/app/drain.ts),
    // not Fastify's bare body without a code or Retry-After.
    return503OnClosing: false,
    // Cold start under tsx on a loaded 2-core machine can exceed avvio's 10 s default.
    pluginTimeout: 60_000,
    // Route schemas compile on first use, not all before listen (src/http/lazy-compilers.ts).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true }, onCreate: compileOnFirstUse },
    schemaController: { compilersFactory: { buildSerializer: serializeOnFirstUse() } }
  }
  Object.assign(opts, { http: timeoutOptions(config.REQUEST_TIMEOUT_MS) })
  if (config.TLS_CERT) {
    (opts as { https?: object }).https = { cert: readFileSync(config.TLS_CERT), key: readFileSync(config.TLS_KEY), ...timeoutOptions(config.REQUEST_TIMEOUT_MS) }
  }
  return opts
}

export async function buildServer (config: Config): Promise<FastifyInstance> {
  const fastify = Fastify(serverOptions(config))
  // fastify-plugin: the app's decorators (config, storage, pipeline…) are visible on the root instance.
  await fastify.register(fp(app), { config })
  return fastify
}

/** What a shutdown past SHUTDOWN_TIMEOUT_MS leaves behind, for its last log line. */
function leftAtShutdown (fastify: FastifyInstance): ShutdownLeft {
  const { bufferedBytes, topics } = fastify.pipeline.stats()
  const bufferedRows = Object.values(topics).reduce((n, s) => n + s.bufferedRows, 0)
  return { bufferedRows, bufferedBytes, openRequests: fastify.inFlightRequests() }
}

export async function main (): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`quiver: configuration error: ${err.message}\n`)
      process.exit(78)
    }
    throw err
  }
  // A first start's RSA key generation runs on the thread pool while the plugins load.
  if (splitList(config.AUTH_PROVIDERS).includes('local')) prepareLocalKeys(config.DATA_DIR).catch(() => {})
  const fastify = await buildServer(config)
  for (const [given, meant] of likelyTypos({ ...dotenvVariables(), ...process.env })) {
    fastify.log.warn({ variable: given, meant }, `config: ${given} is not a Quiver variable and is ignored: did you mean ${meant}?`)
  }
  const stop = installShutdown({ delayMs: config.SHUTDOWN_TIMEOUT_MS, log: fastify.log, close: () => fastify.close(), left: () => leftAtShutdown(fastify) })
  // Under `npm start`: npm (or the sh it runs) leaving without a word must still end in a flush.
  watchLauncher((link) => stop(`launcher left (pid ${link.ppid})`))
  try {
    await fastify.listen({ port: config.PORT, host: config.HOST })
  } catch (err) {
    const failure = listenFailure(err as NodeJS.ErrnoException, config)
    if (!failure) throw err
    process.stderr.write(`quiver: ${failure.config ? 'configuration error' : 'failed to start'}: ${failure.message}\n`)
    process.exit(failure.config ? 78 : 1)
  }
}

/**
 * What a listen error says about HOST or PORT. A host that does not resolve or is not this
 * machine's, or a port this user may not bind, is bad configuration (exit 78: fix it, do not
 * retry); a port in use may free up, so it stays a plain failure (exit 1), naming PORT.
 */
function listenFailure (err: NodeJS.ErrnoException, config: Config): { config: boolean, message: string } | undefined {
  switch (err.code) {
    case 'ENOTFOUND': return { config: true, message: `HOST: ${config.HOST} does not resolve to an address (${err.message})` }
    case 'EADDRNOTAVAIL': return { config: true, message: `HOST: ${config.HOST} is not an address of this machine (${err.message})` }
    case 'EACCES': return { config: true, message: `PORT: ${config.PORT} may not be bound by this user (${err.message})` }
    case 'EADDRINUSE': return { config: false, message: `PORT: ${config.PORT} is already in use on ${config.HOST} (${err.message})` }
    default: return undefined
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`quiver: failed to start: ${(err as Error).message}\n`)
    process.exit(1)
  })
}
