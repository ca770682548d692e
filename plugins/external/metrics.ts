import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client'

/**
 * One registry per app instance (tests build many). Other plugins add their metrics through
 * `fastify.metrics`; this file owns the HTTP ones.
 */
export function createMetrics () {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const m = {
    registry,
    requests: new Counter({ name: 'quiver_http_requests_total', help: 'HTTP requests', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    latency: new Histogram({ name: 'quiver_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
    errors: new Counter({ name: 'quiver_http_errors_total', help: 'Error answers by code', labelNames: ['code'], registers: [registry] }),
    authFailures: new Counter({ name: 'quiver_auth_failures_total', help: 'Rejected credentials by reason', labelNames: ['reason'], registers: [registry] }),
    rows: new Counter({ name: 'quiver_rows_ingested_total', help: 'Rows accepted', labelNames: ['topic'], registers: [registry] }),
    bytes: new Counter({ name: 'quiver_bytes_ingested_total', help: 'Request bytes accepted', labelNames: ['topic'], registers: [registry] }),
    flushes: new Counter({ name: 'quiver_flushes_total', help: 'Parquet objects committed', labelNames: ['topic'], registers: [registry] }),
    flushDuration: new Histogram({ name: 'quiver_flush_duration_seconds', help: 'Buffer flush duration (encode + upload)', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] }),
    uploadDuration: new Histogram({ name: 'quiver_upload_duration_seconds', help: 'Storage write duration', buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] }),
    uploadErrors: new Counter({ name: 'quiver_upload_errors_total', help: 'Failed storage writes (each attempt)', registers: [registry] }),
    bufferedBytes: new Gauge({ name: 'quiver_buffered_bytes', help: 'Bytes held in topic buffers', registers: [registry] }),
    wsConnections: new Gauge({ name: 'quiver_websocket_connections', help: 'Open WebSocket connections', labelNames: ['kind'], registers: [registry] })
  }
  return m
}

export type Metrics = ReturnType<typeof createMetrics>

async function metricsPlugin (fastify: FastifyInstance): Promise<void> {
  const metrics = createMetrics()
  fastify.decorate('metrics', metrics)

  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) })
    metrics.latency.observe({ method: request.method, route }, reply.elapsedTime / 1000)
  })
  fastify.addHook('onSend', async (_request, reply, payload) => {
    if (reply.statusCode >= 400 && typeof payload === 'string' && payload.startsWith('{"statusCode"')) {
      const code = /"code":"(QUIVER_[A-Z_]+)"/.exec(payload)?.[1]
      if (code) metrics.errors.inc({ code })
    }
    return payload
  })

  fastify.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics', produces: ['text/plain'] } }, async (_request, reply) => {
    reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })
}

export default fp(metricsPlugin, { name: 'metrics' })

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}
