import { STATUS_CODES } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance } from 'fastify'
import { InvalidTopicNameError, RETRY_AFTER_SECONDS } from '../../src/errors.ts'

/** Fastify's own codes mapped to stable Quiver ones. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'QUIVER_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'QUIVER_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'QUIVER_INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'QUIVER_INVALID_JSON',
  FST_ERR_VALIDATION: 'QUIVER_VALIDATION'
}

export function errorBody (statusCode: number, code: string, message: string) {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message }
}

/** A `:topic` path parameter that failed TopicParamsSchema (src/http/params.ts). */
function badTopicName (err: FastifyError, params: unknown): string | undefined {
  if (err.validationContext !== 'params' || !err.validation?.some((v) => v.instancePath === '/topic')) return undefined
  return String((params as { topic?: unknown } | null)?.topic ?? '')
}

/**
 * One JSON error shape for everything (clients parse one shape), including 404s and schema validation.
 * 5xx answers never carry internal messages. Every error answer is counted here, by the code
 * decided here (quiver_http_errors_total).
 */
async function errors (fastify: FastifyInstance): Promise<void> {
  const counted = fastify.metrics.errors
  fastify.setErrorHandler((err: FastifyError, request, reply) => {
    let statusCode = err.statusCode ?? 500
    if (statusCode < 400 || statusCode > 599) statusCode = 500
    let code = err.code?.startsWith('QUIVER_') ? err.code : FASTIFY_CODES[err.code ?? '']
    let message = err.message
    if (err.validation) {
      const topic = badTopicName(err, request.params)
      // Same answer for a bad name in a path as in POST /v1/topics.
      code = topic === undefined ? 'QUIVER_VALIDATION' : 'QUIVER_INVALID_TOPIC_NAME'
      if (topic !== undefined) message = new InvalidTopicNameError(topic).message
      statusCode = 400
    }
    if (statusCode >= 500) {
      if (!code || code === 'QUIVER_INTERNAL') {
        request.log.error({ err }, 'unhandled error')
        code = 'QUIVER_INTERNAL'
        message = 'Internal server error'
      } else {
        request.log.warn({ err }, 'service unavailable')
      }
    } else if (!code) {
      code = statusCode === 404 ? 'QUIVER_NOT_FOUND' : statusCode === 429 ? 'QUIVER_RATE_LIMITED' : 'QUIVER_BAD_REQUEST'
    }
    const retry = RETRY_AFTER_SECONDS[code]
    if (retry !== undefined && !reply.hasHeader('retry-after')) reply.header('retry-after', String(retry))
    if (statusCode === 401 && !reply.hasHeader('www-authenticate')) reply.header('www-authenticate', 'Bearer error="invalid_token"')
    counted.inc({ code })
    reply.code(statusCode).send(errorBody(statusCode, code, message))
  })

  fastify.setNotFoundHandler((request, reply) => {
    counted.inc({ code: 'QUIVER_NOT_FOUND' })
    reply.code(404).send(errorBody(404, 'QUIVER_NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0]} not found`))
  })
}

export default fp(errors, { name: 'errors', dependencies: ['metrics'] })
