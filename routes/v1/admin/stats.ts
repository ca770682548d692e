import type { FastifyInstance } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../../../src/http/error-schema.ts'
import { topicsStats } from '../../../src/pipeline/topics-stats.ts'

const TopicCountersSchema = Type.Object({
  bufferedRows: Type.Integer({ description: 'rows this instance holds for the topic, not yet committed' }),
  bufferedBytes: Type.Integer({ description: 'their bytes, on this instance' }),
  committedRows: Type.Integer({ description: 'rows stored in the topic\'s committed objects, by any instance or earlier run (as GET /v1/topics/{topic} counts them)' }),
  committedBytes: Type.Integer({ description: 'bytes of those objects' }),
  files: Type.Integer({ description: 'committed objects' }),
  lastFlushAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'when the newest committed object was written' }),
  stale: Type.Optional(Type.Literal(true, { description: 'storage could not be listed just now: the committed counters are what this instance last knew' }))
})

const StatsSchema = Type.Object({
  uptimeSeconds: Type.Number(),
  bufferedBytes: Type.Integer(),
  maxBufferedBytes: Type.Integer(),
  admission: Type.Object({
    reservedBytes: Type.Integer({ description: 'bytes reserved now by bodies being read or parsed, staged requests and WebSocket messages not yet buffered' }),
    peakBytes: Type.Integer({ description: 'highest buffered + reserved total since start (never above maxBufferedBytes, unless one request alone was larger)' })
  }),
  connections: Type.Object({ stream: Type.Integer(), tail: Type.Integer() }),
  topics: Type.Record(Type.String(), TopicCountersSchema, { description: 'every topic of the catalog (and any this instance still holds rows for after its deletion), by name' }),
  trackedNames: Type.Integer({ description: 'entries of per-topic state (buffers, tail listeners, committed index, catalog cache); grows with real topics only, never with requests on made-up names' })
})

async function gauge (fastify: FastifyInstance, kind: string): Promise<number> {
  const { values } = await fastify.metrics.wsConnections.get()
  return values.find((v) => v.labels.kind === kind)?.value ?? 0
}

const statsRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/stats', {
    config: { role: 'admin' },
    schema: {
      tags: ['admin'],
      summary: 'Per-topic buffered and committed counters, WebSocket connections, uptime',
      description: 'Uptime, buffers, admission and connections are this instance\'s. `topics` has every topic of the catalog: its committed counters come from a fresh listing of storage (what every instance and every earlier run stored, the figures `GET /v1/topics/{topic}` gives), its buffered counters are this instance\'s.',
      security: [{ bearerAuth: [] }],
      response: { 200: StatsSchema, ...errorResponses(401, 403) }
    }
  }, async (request) => {
    // Listed first: the instance's own figures below are then as of the answer.
    const topics = await topicsStats(fastify.pipeline, fastify.catalog, request.log)
    const stats = fastify.pipeline.stats()
    return {
      uptimeSeconds: Math.round(process.uptime() * 1000) / 1000,
      bufferedBytes: stats.bufferedBytes,
      maxBufferedBytes: fastify.config.MAX_BUFFERED_BYTES,
      admission: fastify.ingest.stats(),
      connections: { stream: await gauge(fastify, 'stream'), tail: await gauge(fastify, 'tail') },
      topics,
      trackedNames: stats.trackedNames + fastify.catalog.cachedNames()
    }
  })
}

export default statsRoute
