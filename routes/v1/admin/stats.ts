import type { FastifyInstance } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../../../src/http/error-schema.ts'

const TopicCountersSchema = Type.Object({
  bufferedRows: Type.Integer(),
  bufferedBytes: Type.Integer(),
  committedRows: Type.Integer(),
  committedBytes: Type.Integer(),
  files: Type.Integer(),
  lastFlushAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
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
  topics: Type.Record(Type.String(), TopicCountersSchema),
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
      description: 'Topics this gateway instance has buffered or committed to since it started; committed counters include objects found in storage for those topics.',
      security: [{ bearerAuth: [] }],
      response: { 200: StatsSchema, ...errorResponses(401, 403) }
    }
  }, async () => {
    const stats = fastify.pipeline.stats()
    return {
      uptimeSeconds: Math.round(process.uptime() * 1000) / 1000,
      bufferedBytes: stats.bufferedBytes,
      maxBufferedBytes: fastify.config.MAX_BUFFERED_BYTES,
      admission: fastify.ingest.stats(),
      connections: { stream: await gauge(fastify, 'stream'), tail: await gauge(fastify, 'tail') },
      topics: stats.topics,
      trackedNames: stats.trackedNames + fastify.catalog.cachedNames()
    }
  })
}

export default statsRoute
