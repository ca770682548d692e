import createError from '@fastify/error'

/**
 * Every error Quiver answers with. Codes are part of the public contract (CONTRACT §4):
 * add new ones, never rename. The JSON body is built by the error handler in
 * plugins/app/errors.ts from `statusCode`, `code` and `message`.
 */
export const UnauthorizedError = createError<[string?]>('QUIVER_UNAUTHORIZED', 'Missing or invalid bearer token%s', 401)
export const ForbiddenError = createError<[string]>('QUIVER_FORBIDDEN', 'This operation needs the %s role', 403)
export const MissingScopeError = createError<[string, string]>('QUIVER_MISSING_SCOPE', 'This %s operation needs the scopes: %s', 403)
export const AuthUnavailableError = createError('QUIVER_AUTH_UNAVAILABLE', 'The identity provider cannot be reached; try again later', 503)

export const NotFoundError = createError<[string]>('QUIVER_NOT_FOUND', '%s', 404)
export const TopicNotFoundError = createError<[string]>('QUIVER_TOPIC_NOT_FOUND', 'Topic "%s" does not exist', 404)
export const TopicExistsError = createError<[string]>('QUIVER_TOPIC_EXISTS', 'Topic "%s" already exists', 409)
export const InvalidTopicNameError = createError<[string]>('QUIVER_INVALID_TOPIC_NAME', 'Invalid topic name "%s": expected ^[a-z][a-z0-9_]{0,62}$', 400)
export const InvalidSchemaError = createError<[string]>('QUIVER_INVALID_SCHEMA', 'Invalid schema: %s', 400)
export const ValidationError = createError<[string]>('QUIVER_VALIDATION', '%s', 400)
export const BadRequestError = createError<[string]>('QUIVER_BAD_REQUEST', '%s', 400)

export const InvalidArrowError = createError<[string]>('QUIVER_INVALID_ARROW', 'Invalid Arrow IPC data: %s', 400)
export const InvalidJsonError = createError<[string]>('QUIVER_INVALID_JSON', 'Invalid JSON data: %s', 400)
export const PayloadTooLargeError = createError<[number]>('QUIVER_PAYLOAD_TOO_LARGE', 'Request body exceeds %d bytes', 413)
export const UnsupportedMediaTypeError = createError<[string]>('QUIVER_UNSUPPORTED_MEDIA_TYPE', 'Unsupported content type "%s"; use application/vnd.apache.arrow.stream, application/vnd.apache.arrow.file, application/x-ndjson or application/json', 415)
export const SchemaMismatchError = createError<[string]>('QUIVER_SCHEMA_MISMATCH', 'Schema does not match the topic: %s', 422)
export const RateLimitedError = createError<[number]>('QUIVER_RATE_LIMITED', 'Too many requests; retry in %d seconds', 429)

export const OverloadedError = createError('QUIVER_OVERLOADED', 'The gateway is buffering as much as it may; retry shortly', 503)
export const StorageUnavailableError = createError('QUIVER_STORAGE_UNAVAILABLE', 'Storage is failing; the data was not committed, retry shortly', 503)
export const ShuttingDownError = createError('QUIVER_SHUTTING_DOWN', 'The gateway is shutting down; retry on another instance', 503)
export const InternalError = createError('QUIVER_INTERNAL', 'Internal server error', 500)

/** Errors that carry a Retry-After header when answered. */
export const RETRY_AFTER_SECONDS: Record<string, number> = {
  QUIVER_OVERLOADED: 1,
  QUIVER_STORAGE_UNAVAILABLE: 2,
  QUIVER_SHUTTING_DOWN: 1,
  QUIVER_AUTH_UNAVAILABLE: 2
}

/** WebSocket ingest: text frames carry no data (CONTRACT §7); sent as an error frame, not an HTTP answer. */
export const TextFrameError = createError('QUIVER_TEXT_FRAME', 'Text frames are not accepted: send each Arrow IPC stream as one binary message', 400)
export const LocalOnlyError = createError<[string]>('QUIVER_LOCAL_ONLY', 'Console tokens are only handed out to loopback requests: %s', 403)
