import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createPipeline, type QuiverPipeline } from '../../src/pipeline/pipeline.ts'

/**
 * The ingest pipeline (per-topic buffers → Parquet → storage) as `fastify.pipeline`. Depends on
 * 'storage', so on close it flushes before the encoder pool and the storage sink shut down.
 */
async function pipeline (fastify: FastifyInstance): Promise<void> {
  const { metrics } = fastify
  const p = createPipeline({
    config: fastify.config,
    storage: fastify.storage,
    encoder: fastify.encoder,
    logger: fastify.log.child({ component: 'pipeline' }),
    hooks: {
      ingested: (topic, rows, bytes) => {
        const label = metrics.topicLabels.of(topic)
        metrics.rows.inc({ topic: label }, rows)
        metrics.bytes.inc({ topic: label }, bytes)
      },
      flushed: (topic, seconds) => {
        metrics.flushes.inc({ topic: metrics.topicLabels.of(topic) })
        metrics.flushDuration.observe(seconds)
      },
      uploaded: (seconds) => metrics.uploadDuration.observe(seconds),
      buffered: (bytes) => metrics.bufferedBytes.set(bytes),
      corrupt: () => metrics.corruptObjects.inc()
    }
  })
  fastify.decorate('pipeline', p)
  // The close waits for every open connection before the onClose hooks run, and a durable request
  // in flight holds its connection until its rows are flushed: without this, it would wait for its
  // flush window (FLUSH_INTERVAL_MS may exceed SHUTDOWN_TIMEOUT_MS), and the rows buffered beside it
  // would never be flushed. Started here, not awaited: the listener closes at once.
  fastify.addHook('preClose', (done) => {
    p.drain().catch((err: Error) => fastify.log.warn({ err }, 'flushing at the start of shutdown failed; retried at close'))
    done()
  })
  fastify.addHook('onClose', async () => {
    await p.close()
  })
}

export default fp(pipeline, { name: 'pipeline', dependencies: ['storage'] })

declare module 'fastify' {
  interface FastifyInstance {
    pipeline: QuiverPipeline
  }
}
