/** A validation function as Ajv returns it: fastify calls it, then reads `errors` when it failed. */
type Validate = ((this: unknown, ...args: any[]) => unknown) & { errors?: unknown, schema?: unknown }

/** The one method of an Ajv instance this touches (public API). */
interface Compiles {
  compile: (schema: any, meta?: boolean) => Validate
}

/**
 * For fastify's `ajv.onCreate`: each route's validators compile when the route first validates a
 * request, not all of them before the server listens. Compiling every route schema at startup was
 * about a sixth of the CPU to a healthy /healthz, for routes a given process may never serve.
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
