export const ARROW_STREAM = 'application/vnd.apache.arrow.stream'
export const ARROW_FILE = 'application/vnd.apache.arrow.file'
export const NDJSON = 'application/x-ndjson'
export const JSON_ARRAY = 'application/json'
export const INGEST_MEDIA_TYPES = [ARROW_STREAM, ARROW_FILE, NDJSON, JSON_ARRAY]

/** `application/JSON; charset=utf-8` → `application/json`. */
export function mediaTypeOf (header: string | undefined): string {
  return (header ?? '').split(';')[0].trim().toLowerCase()
}

/**
 * A body Fastify does not read (the handler streams it), described for the OpenAPI document
 * only (plugins/external/swagger.ts puts it there).
 */
export const binary = (mediaType: string, description: string) => ({ schema: { type: 'string', description, contentMediaType: mediaType } })
