import { InternalError } from '../errors.ts'
import { isQuiverError } from '../pipeline/guard.ts'

/**
 * The one mapping of an ingest failure to what a client sees, whatever the transport: the HTTP
 * route answers it through the error handler, the WebSocket session as an error frame. Quiver
 * errors pass through (storage faults were tagged as 503 where storage was called:
 * src/pipeline/guard.ts, the flush writer, the staged upload); anything else is a fault of ours,
 * 500 QUIVER_INTERNAL with its cause kept for the log.
 */
export function ingestFailure (err: unknown): Error & { code: string, statusCode: number } {
  if (isQuiverError(err)) return err
  return Object.assign(new InternalError(), { cause: err }) as Error & { code: string, statusCode: number }
}
