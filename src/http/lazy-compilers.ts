import { createRequire } from 'node:module'
import type { FastifyServerOptions } from 'fastify'

/** A validation function as Ajv returns it: fastify calls it, then reads `errors` when it failed. */
type Validate = ((this: unknown, ...args: any[]) => unknown) & { errors?: unknown, schema?: unknown }

/** The one method of an Ajv instance this touches (public API). */
interface Compiles {
  compile: (schema: any, meta?: boolean) => Validate
}

/**
 * For fastify's `ajv.onCreate`: each route's validators compile when the route first validates a
 * request, not all of them before the server listens. Compiling every route schema at startup was
 * about a tenth of the main thread's CPU to a healthy /healthz (profiled), for routes a given
 * process may never serve.
 * The function handed to fastify forwards to the real one and mirrors its `errors`.
 * Cost: the first request of each route pays its compile (a few milliseconds), and a schema Ajv
 * cannot compile fails that request instead of the start.
 */
export function compileOnFirstUse (ajv: Compiles): void {
  const compile = ajv.compile.bind(ajv)
  ajv.compile = (schema, meta) => {
    let real: Validate | undefined
    const validate: Validate = function (this: unknown, ...args: unknown[]) {
      real ??= compile(schema, meta)
      const result = real.apply(this, args)
      validate.errors = real.errors
      return result
    }
    validate.schema = schema
    return validate
  }
}

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>
/** fastify's serializer builder: (shared schemas, options) → (a route's response schema) → serializer. */
export type BuildSerializer = NonNullable<CompilersFactory['buildSerializer']>

/** The builder fastify uses when given none: the @fastify/fast-json-stringify-compiler fastify itself depends on. */
function fastifyDefaultSerializers (): BuildSerializer {
  const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'))
  return (fromFastify('@fastify/fast-json-stringify-compiler') as () => BuildSerializer)()
}

/**
 * For fastify's `schemaController.compilersFactory.buildSerializer`: fastify's default builder,
 * with each response serializer built on the route's first response of that status (same cost
 * and trade-off as the validators above). fastify treats a builder given here exactly like its
 * own (only the validators' header handling asks whether a compiler is custom).
 */
export function serializeOnFirstUse (build: BuildSerializer = fastifyDefaultSerializers()): BuildSerializer {
  return (externalSchemas, serializerOpts) => {
    const compile = build(externalSchemas, serializerOpts)
    return (route) => {
      let real: ((data: any) => string) | undefined
      return (data: any) => (real ??= compile(route))(data)
    }
  }
}
