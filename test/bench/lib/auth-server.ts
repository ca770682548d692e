/**
 * Bench-only server process: the real gateway (buildServer with the environment's config) plus
 * two identical tiny routes that differ only in the auth hook, so a comparison isolates what
 * `fastify.authenticate` costs per request. Prints `{"port":n}` once listening.
 */
import { buildServer } from '../../../src/server.ts'
import { loadConfig } from '../../../config/load.ts'

const config = loadConfig(process.env, { dotenv: false })
const fastify = await buildServer(config)
const body = { sub: 'bench', ok: true }
await fastify.register(async (f) => {
  f.get('/bench/open', async () => body)
  f.get('/bench/auth', { onRequest: f.authenticate }, async () => body)
  // An onRequest hook that does nothing: what any route hook costs, before the hook's own work.
  f.get('/bench/hook', { onRequest: (_request, _reply, done) => done() }, async () => body)
})
await fastify.listen({ port: 0, host: '127.0.0.1' })
process.stdout.write(JSON.stringify({ port: (fastify.server.address() as { port: number }).port }) + '\n')
process.on('SIGTERM', () => { fastify.close().then(() => process.exit(0), () => process.exit(1)) })
