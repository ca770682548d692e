import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { setSchemaLimits } from '../../src/schema/limits.ts'

/**
 * MAX_SCHEMA_FIELDS / MAX_TYPE_LENGTH for every schema reader of the process (IPC header guard,
 * Arrow schema check, type parser). They are module settings, not per-request options, because
 * the readers sit below the ingest service, the catalog and the CLI alike.
 */
async function schemaLimitsPlugin (fastify: FastifyInstance): Promise<void> {
  setSchemaLimits({ maxFields: fastify.config.MAX_SCHEMA_FIELDS, maxTypeLength: fastify.config.MAX_TYPE_LENGTH })
}

export default fp(schemaLimitsPlugin, { name: 'schema-limits' })
