import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createStorage, type RetryingStorage } from '../../src/storage/index.ts'
import { createCatalog, type Catalog } from '../../src/catalog.ts'
import { createEncoderPool } from '../../src/parquet/pool.ts'
import type { ParquetEncoder } from '../../src/parquet/types.ts'

const WRITES = new Set(['put', 'putStream', 'createExclusive'])

/**
 * Storage sink (S3 or DATA_DIR, behind retries), the topic catalog kept in it, and the Parquet
 * encoder pool. Plugins that depend on 'storage' (the pipeline) close first, so their final flush
 * still has a working encoder and sink.
 */
async function storagePlugin (fastify: FastifyInstance): Promise<void> {
  const { config, metrics } = fastify
  const log = fastify.log.child({ component: 'storage' })
  const storage = await createStorage(config, log, {
    onError: (_err, { op }) => { if (WRITES.has(op)) metrics.uploadErrors.inc() }
  })
  const encoder = createEncoderPool({ threads: config.ENCODER_THREADS, compression: config.PARQUET_COMPRESSION })
  log.info({ storage: storage.location, encoderThreads: encoder.threads, compression: config.PARQUET_COMPRESSION }, 'storage ready')

  fastify.decorate('storage', storage)
  fastify.decorate('catalog', createCatalog(storage, { autoEvolve: config.AUTO_EVOLVE_TOPICS }))
  fastify.decorate('encoder', encoder)
  // After listen, so /healthz answers before the threads have loaded parquet-wasm.
  fastify.addHook('onListen', async () => {
    encoder.warm?.().catch((err: Error) => log.warn({ err }, 'starting the encoder threads failed'))
  })
  fastify.addHook('onClose', async () => {
    await encoder.close()
    await storage.close()
  })
}

export default fp(storagePlugin, { name: 'storage', dependencies: ['metrics'] })

declare module 'fastify' {
  interface FastifyInstance {
    storage: RetryingStorage
    catalog: Catalog
    encoder: ParquetEncoder
  }
}
