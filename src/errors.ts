import createError from '@fastify/error'

/**
 * Every error Quiver answers with. Codes are part of the public interface (clients branch on them):
 * add new ones, never rename. The JSON body is built by the error handler in
 * plugins/app/errors.ts from `statusCode`, `code` and `message`.
 */
export const UnauthorizedError = createError<[string?]>('QUIVER_UNAUTHORIZED', 'Missing or invalid bearer token%s', 401)
export const ForbiddenError = createError<[string]>('QUIVER_FORBIDDEN', 'This operation needs the %s role', 403)
export const MissingScopeError = createError<[string, string]>('QUIVER_MISSING_SCOPE', 'This %s operation needs the scopes: %s', 403)
export const TokenTtlTooLongError = createError<[number, number]>('QUIVER_TOKEN_TTL_TOO_LONG', 'ttlSeconds %d exceeds LOCAL_TOKEN_MAX_TTL_S (%d)', 400)
export const AuthUnavailableError = createError('QUIVER_AUTH_UNAVAILABLE', 'The identity provider cannot be reached; try again later', 503)

export const NotFoundError = createError<[string]>('QUIVER_NOT_FOUND', '%s', 404)
export const TopicNotFoundError = createError<[string]>('QUIVER_TOPIC_NOT_FOUND', 'Topic "%s" does not exist', 404)
export const TopicExistsError = createError<[string]>('QUIVER_TOPIC_EXISTS', 'Topic "%s" already exists', 409)
export const InvalidTopicNameError = createError<[string]>('QUIVER_INVALID_TOPIC_NAME', 'Invalid topic name "%s": expected ^[a-z][a-z0-9_]{0,62}$', 400)
export const InvalidSchemaError = createError<[string]>('QUIVER_INVALID_SCHEMA', 'Invalid schema: %s', 400)
export const ValidationError = createError<[string]>('QUIVER_VALIDATION', '%s', 400)

export const InvalidArrowError = createError<[string]>('QUIVER_INVALID_ARROW', 'Invalid Arrow IPC data: %s', 400)
export const InvalidJsonError = createError<[string]>('QUIVER_INVALID_JSON', 'Invalid JSON data: %s', 400)
export const PayloadTooLargeError = createError<[number]>('QUIVER_PAYLOAD_TOO_LARGE', 'Request body exceeds %d bytes', 413)
/** One NDJSON line or JSON array element over MAX_JSON_ROW_BYTES (`line 3`, `row 2`). */
export const JsonRowTooLargeError = createError<[string, number]>('QUIVER_PAYLOAD_TOO_LARGE', '%s is longer than %d bytes, the longest JSON row read (MAX_JSON_ROW_BYTES)', 413)
/** A request that must be held in memory (as a whole, or one huge record batch) larger than the memory all requests share. */
export const HeldTooLargeError = createError<[string, number]>('QUIVER_PAYLOAD_TOO_LARGE', '%s is held in memory whole, and it exceeds MAX_BUFFERED_BYTES (%d bytes): send it in smaller requests or record batches', 413)
export const UnsupportedEncodingError = createError<[string]>('QUIVER_UNSUPPORTED_MEDIA_TYPE', 'Content-Encoding "%s" is not supported; send the body uncompressed (objects are compressed on their way to storage)', 415)
export const UnsupportedMediaTypeError = createError<[string]>('QUIVER_UNSUPPORTED_MEDIA_TYPE', 'Unsupported content type "%s"; use application/vnd.apache.arrow.stream, application/vnd.apache.arrow.file, application/x-ndjson or application/json', 415)
export const NotAcceptableError = createError<[string]>('QUIVER_NOT_ACCEPTABLE', 'Cannot answer as "%s"; rows are served as application/vnd.apache.arrow.stream or application/x-ndjson', 406)
export const SchemaMismatchError = createError<[string]>('QUIVER_SCHEMA_MISMATCH', 'Schema does not match the topic: %s', 422)
// Schema evolution.
export const SchemaIncompatibleError = createError<[string]>('QUIVER_SCHEMA_INCOMPATIBLE', 'Schema change is not compatible: %s', 422)
export const SchemaConflictError = createError<[string]>('QUIVER_SCHEMA_CONFLICT', 'Topic "%s" is being evolved by others right now; retry shortly', 503)
export const InvalidPartitionError = createError<[string]>('QUIVER_INVALID_PARTITION', 'Invalid partition spec: %s', 400)
/** Found while the request is split (src/lake/partitioner.ts), at the first directory past the limit. */
export const TooManyPartitionsError = createError<[number, number]>('QUIVER_TOO_MANY_PARTITIONS', 'The request feeds more than %d partitions; at most %d per flush (MAX_PARTITIONS_PER_FLUSH)', 422)
export const PartitionValueTooLongError = createError<[string, number]>('QUIVER_PARTITION_VALUE_TOO_LONG', 'A value of partition field "%s" is %d bytes once escaped; at most 200 bytes fit in a key segment', 422)
/** A row's partition directories together make an object key longer than S3 takes (1,024 bytes). */
export const PartitionKeyTooLongError = createError<[number, number]>('QUIVER_PARTITION_VALUE_TOO_LONG', 'A row\'s partition values make directories of %d bytes once escaped; at most %d fit in an object key (S3 takes keys of at most 1,024 bytes)', 422)
export const TooManyConnectionsError = createError<[number]>('QUIVER_TOO_MANY_CONNECTIONS', 'Too many open WebSocket connections for this principal (at most %d)', 429)
export const InvalidIdempotencyKeyError = createError('QUIVER_INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1 to 255 visible ASCII characters', 400)
export const IdempotencyInFlightError = createError('QUIVER_IDEMPOTENCY_IN_FLIGHT', 'A request with this Idempotency-Key is still being processed; retry shortly', 409)
export const IdempotencyKeyReusedError = createError('QUIVER_IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used for another request (body, content type or ack differ)', 422)
export const RateLimitedError = createError<[number]>('QUIVER_RATE_LIMITED', 'Too many requests; retry in %d seconds', 429)

// Types: what a producer sent that cannot be stored, and what to send instead.
export const UnsupportedArrowTypeError = createError<[string]>('QUIVER_UNSUPPORTED_TYPE', 'Unsupported Arrow data: %s', 415)
export const DecimalPrecisionError = createError<[string]>('QUIVER_DECIMAL_PRECISION', 'Decimal value out of range: %s', 422)
/** A valid Arrow value its stored form cannot hold (src/arrow/stored-range.ts). */
export const ValueOutOfRangeError = createError<[string]>('QUIVER_VALUE_OUT_OF_RANGE', 'Value out of range: %s', 422)

export const UpgradeRequiredError = createError('QUIVER_UPGRADE_REQUIRED', 'This route is a WebSocket: open it with a GET carrying Upgrade: websocket', 426)

export const OverloadedError = createError('QUIVER_OVERLOADED', 'The gateway is buffering as much as it may; retry shortly', 503)
export const StorageUnavailableError = createError('QUIVER_STORAGE_UNAVAILABLE', 'Storage is failing; the data was not committed, retry shortly', 503)
/** The same 503 for what is not an ingest (reads, topics, tokens): no data to speak of. */
export const StorageFailingError = createError('QUIVER_STORAGE_UNAVAILABLE', 'Storage is failing; retry shortly', 503)
/** An ingest's topic lookup that storage did not answer in time (storage may be slow rather than failing). */
export const CatalogTimeoutError = createError<[number]>('QUIVER_STORAGE_UNAVAILABLE', 'Storage did not answer the topic lookup within %d ms (INGEST_CATALOG_TIMEOUT_MS); the data was not committed, retry shortly', 503)
export const ShuttingDownError = createError('QUIVER_SHUTTING_DOWN', 'The gateway is shutting down; retry on another instance', 503)
export const InternalError = createError('QUIVER_INTERNAL', 'Internal server error', 500)

/** Errors that carry a Retry-After header when answered. */
export const RETRY_AFTER_SECONDS: Record<string, number> = {
  QUIVER_OVERLOADED: 1,
  QUIVER_STORAGE_UNAVAILABLE: 2,
  QUIVER_SHUTTING_DOWN: 1,
  QUIVER_AUTH_UNAVAILABLE: 2,
  QUIVER_SCHEMA_CONFLICT: 1,
  QUIVER_IDEMPOTENCY_IN_FLIGHT: 1
}

/** WebSocket ingest: text frames carry no data (every message is an Arrow IPC stream); sent as an error frame, not an HTTP answer. */
export const TextFrameError = createError('QUIVER_TEXT_FRAME', 'Text frames are not accepted: send each Arrow IPC stream as one binary message', 400)
