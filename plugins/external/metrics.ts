import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client'
import { createTopicLabels } from '../../src/metrics/topic-labels.ts'
import { createScrapeCheck } from '../../src/metrics/scrape-token.ts'
import { UnauthorizedError } from '../../src/errors.ts'

/**
 * One registry per app instance (tests build many). Other plugins add their metrics through
 * `fastify.metrics`; this file owns the HTTP ones.
 */
export function createMetrics (opts: { topicLabels: number }) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const m = {
    registry,
    // Per-topic series (rows, bytes, flushes) take their label from here: bounded, catalog topics only.
    topicLabels: createTopicLabels(opts.topicLabels),
    requests: new Counter({ name: 'quiver_http_requests_total', help: 'HTTP requests', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    latency: new Histogram({ name: 'quiver_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
    // Counted by the error handler (plugins/app/errors.ts), where the code is decided.
    errors: new Counter({ name: 'quiver_http_errors_total', help: 'Error answers by code', labelNames: ['code'], registers: [registry] }),
    authFailures: new Counter({ name: 'quiver_auth_failures_total', help: 'Rejected credentials by reason', labelNames: ['reason'], registers: [registry] }),
    rows: new Counter({ name: 'quiver_rows_ingested_total', help: 'Rows accepted', labelNames: ['topic'], registers: [registry] }),
    bytes: new Counter({ name: 'quiver_bytes_ingested_total', help: 'Request bytes accepted', labelNames: ['topic'], registers: [registry] }),
    flushes: new Counter({ name: 'quiver_flushes_total', help: 'Parquet objects committed', labelNames: ['topic'], registers: [registry] }),
    flushDuration: new Histogram({ name: 'quiver_flush_duration_seconds', help: 'Buffer flush duration (encode + upload)', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] }),
    uploadDuration: new Histogram({ name: 'quiver_upload_duration_seconds', help: 'Storage write duration', buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] }),
    uploadErrors: new Counter({ name: 'quiver_upload_errors_total', help: 'Failed storage writes (each attempt)', registers: [registry] }),
    bufferedBytes: new Gauge({ name: 'quiver_buffered_bytes', help: 'Bytes of ingest held in memory: buffered rows, their encoded row groups, objects being written', registers: [registry] }),
    corruptObjects: new Counter({ name: 'quiver_corrupt_objects_total', help: 'Unreadable objects found under topics (skipped; the log names each key)', registers: [registry] }),
    wsConnections: new Gauge({ name: 'quiver_websocket_connections', help: 'Open WebSocket connections', labelNames: ['kind'], registers: [registry] })
  }
  return m
}

export type Metrics = ReturnType<typeof createMetrics>

async function metricsPlugin (fastify: FastifyInstance): Promise<void> {
  const { METRICS_TOPIC_LABELS, METRICS_TOKEN } = fastify.config
  const metrics = createMetrics({ topicLabels: METRICS_TOPIC_LABELS })
  fastify.decorate('metrics', metrics)
  const scraper = METRICS_TOKEN ? createScrapeCheck(METRICS_TOKEN) : null

  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) })
    metrics.latency.observe({ method: request.method, route }, reply.elapsedTime / 1000)
  })

  fastify.get('/metrics', {
    // Registered before @fastify/swagger's hook (plugins/external loads by name): the document's
    // entry for this route is src/openapi.ts's UNSEEN_OPERATIONS, which takes over only while it is unseen.
    schema: { tags: ['ops'], summary: 'Prometheus metrics (a bearer token when METRICS_TOKEN is set)', produces: ['text/plain'] },
    // Not a JWT: a static secret shared with the scraper, so the /v1 auth path does not apply.
    onRequest: async (request, reply) => {
      if (scraper && !scraper(request.headers.authorization)) {
        // This route predates the app's error handler (registered before it): set the challenge here.
        reply.header('www-authenticate', 'Bearer error="invalid_token"')
        throw new UnauthorizedError('')
      }
    }
  }, async (_request, reply) => {
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
