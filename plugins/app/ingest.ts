import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createIngestService, type IngestService } from '../../src/ingest/service.ts'
import { IdempotencyKeys } from '../../src/pipeline/idempotency.ts'

/** The ingest service (src/ingest/service.ts) as `fastify.ingest`, shared by the HTTP and WebSocket ingest routes. */
async function ingest (fastify: FastifyInstance): Promise<void> {
  const { config } = fastify
  const keys = new IdempotencyKeys({ storage: fastify.pipeline.storage, ttlMs: config.IDEMPOTENCY_TTL_S * 1000, leaseMs: config.IDEMPOTENCY_LEASE_MS, log: fastify.log })
  fastify.addHook('onClose', async () => keys.close())
  fastify.decorate('ingest', createIngestService({ config, pipeline: fastify.pipeline, catalog: fastify.catalog, encoder: fastify.encoder, keys }))
}

export default fp(ingest, { name: 'ingest', dependencies: ['pipeline'] })

declare module 'fastify' {
  interface FastifyInstance {
    ingest: IngestService
  }
}
