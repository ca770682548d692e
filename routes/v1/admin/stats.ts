import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { ErrorSchema } from '../../../src/pipeline/http-schemas.ts'

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
  connections: Type.Object({ stream: Type.Integer(), tail: Type.Integer() }),
  topics: Type.Record(Type.String(), TopicCountersSchema)
})

async function gauge (fastify: FastifyInstance, kind: string): Promise<number> {
  const { values } = await fastify.metrics.wsConnections.get()
  return values.find((v) => v.labels.kind === kind)?.value ?? 0
}

export default async function (fastify: FastifyInstance): Promise<void> {
  fastify.get('/stats', {
    onRequest: fastify.requireRole('admin'),
    schema: {
      tags: ['admin'],
      summary: 'Per-topic buffered and committed counters, WebSocket connections, uptime',
      description: 'Topics this gateway instance has buffered or committed to since it started; committed counters include objects found in storage for those topics.',
      security: [{ bearerAuth: [] }],
      response: { 200: StatsSchema, 401: ErrorSchema, 403: ErrorSchema }
    }
  }, async () => {
    const stats = fastify.pipeline.stats()
    return {
      uptimeSeconds: Math.round(process.uptime() * 1000) / 1000,
      bufferedBytes: stats.bufferedBytes,
      maxBufferedBytes: fastify.config.MAX_BUFFERED_BYTES,
      connections: { stream: await gauge(fastify, 'stream'), tail: await gauge(fastify, 'tail') },
      topics: stats.topics
    }
  })
}
