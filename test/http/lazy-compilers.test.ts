import t from 'tap'
import { createRequire } from 'node:module'
import Fastify from 'fastify'
import { compileOnFirstUse, serializeOnFirstUse, type BuildSerializer } from '../../src/http/lazy-compilers.ts'
import { serverOptions } from '../../src/server.ts'
import { loadConfig } from '../../config/load.ts'

t.test('a validator compiles on its first call, once, and mirrors its errors', async (t) => {
  const compiled: unknown[] = []
  const fake = {
    compile (schema: { min: number }) {
      compiled.push(schema)
      const validate = function (this: unknown, data: unknown) {
        const ok = typeof data === 'number' && data >= schema.min
        validate.errors = ok ? null : [{ message: `must be >= ${schema.min}`, self: this }]
        return ok
      } as ((this: unknown, data: unknown) => boolean) & { errors?: unknown }
      return validate
    }
  }
  compileOnFirstUse(fake)
  const schema = { min: 3 }
  const validate = fake.compile(schema) as ((this: unknown, data: unknown) => boolean) & { errors?: unknown, schema?: unknown }
  t.same(compiled, [], 'nothing compiled before the first call')
  t.equal(validate.schema, schema, 'the schema is where Ajv puts it')
  const self = { request: 1 }
  t.equal(validate.call(self, 1), false)
  t.same(validate.errors, [{ message: 'must be >= 3', self }], 'errors of the failed call, with the caller\'s this')
  t.equal(validate(5), true)
  t.equal(validate.errors, null, 'a passing call clears them')
  t.same(compiled, [schema], 'compiled once')
})

t.test('fastify with the server options: no route schema compiled at ready, the first request compiles and validates', async (t) => {
  const config = loadConfig({ LOG_LEVEL: 'silent' }, { dotenv: false })
  const opts = serverOptions(config)
  // Counts the real compiles of fastify's Ajv instance: runs before the server's own onCreate,
  // so it sees what the lazy functions compile, not the lazy functions themselves.
  let compiles = 0
  const onCreate = opts.ajv!.onCreate!
  opts.ajv!.onCreate = (ajv) => {
    const compile = ajv.compile.bind(ajv)
    ajv.compile = ((schema: object, meta?: boolean) => { compiles++; return compile(schema, meta) }) as typeof ajv.compile
    onCreate(ajv)
  }
  const app = Fastify(opts)
  t.teardown(() => app.close())
  app.post('/sum', {
    schema: {
      body: { type: 'object', required: ['a', 'b'], properties: { a: { type: 'integer' }, b: { type: 'integer', default: 2 } }, additionalProperties: false },
      querystring: { type: 'object', properties: { twice: { type: 'boolean' } } }
    }
  }, async (request) => {
    const { a, b } = request.body as { a: number, b: number }
    const { twice } = request.query as { twice?: boolean }
    return { sum: (a + b) * (twice ? 2 : 1) }
  })
  await app.ready()
  t.equal(compiles, 0, 'nothing compiled before the first request')

  const bad = await app.inject({ method: 'POST', url: '/sum', payload: { b: 1 } })
  t.equal(bad.statusCode, 400)
  t.same(bad.json(), { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message: "body must have required property 'a'" })
  t.equal(compiles, 1, 'the body validator compiled; the querystring one, never reached, did not')

  // Coercion and defaults (the server's Ajv options) still apply.
  const good = await app.inject({ method: 'POST', url: '/sum?twice=true', payload: { a: '3' } })
  t.same(good.json(), { sum: 10 })
  t.equal(compiles, 2, 'the querystring validator compiled now; the body one only once')
})

t.test('response serializers: fastify\'s own, built on a route\'s first response of each status', async (t) => {
  const config = loadConfig({ LOG_LEVEL: 'silent' }, { dotenv: false })
  const opts = serverOptions(config)
  const given = opts.schemaController!.compilersFactory!.buildSerializer!
  t.equal(typeof given, 'function', 'the server options install a serializer builder')
  // The same wrapper around a counting copy of fastify's default builder.
  const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'))
  const fastifyDefault = (fromFastify('@fastify/fast-json-stringify-compiler') as () => BuildSerializer)()
  const built: string[] = []
  const counting: BuildSerializer = (externals, o) => {
    const compile = fastifyDefault(externals, o)
    return (route) => { built.push(`${route.url} ${route.httpStatus}`); return compile(route) }
  }
  opts.schemaController = { compilersFactory: { buildSerializer: serializeOnFirstUse(counting) } }
  const app = Fastify(opts)
  t.teardown(() => app.close())
  app.get('/thing', {
    schema: {
      response: {
        200: { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' } } },
        404: { type: 'object', properties: { missing: { type: 'string' } } }
      }
    }
  }, async (request, reply) => {
    if ((request.query as { id?: string }).id === 'none') return reply.code(404).send({ missing: 'none', secret: 'dropped' })
    return { id: '7', name: 'seven', secret: 'dropped' }
  })
  await app.ready()
  t.same(built, [], 'nothing built before the first response')
  const ok = await app.inject('/thing')
  t.equal(ok.body, '{"id":7,"name":"seven"}', 'serialized by the schema: coerced, unknown properties dropped')
  t.same(built, ['/thing 200'])
  t.equal((await app.inject('/thing')).body, '{"id":7,"name":"seven"}')
  const missing = await app.inject('/thing?id=none')
  t.equal(missing.statusCode, 404)
  t.equal(missing.body, '{"missing":"none"}')
  t.same(built, ['/thing 200', '/thing 404'], 'each status built once, on its first response')
})
