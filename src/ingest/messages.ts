import type { RecordBatch, Schema } from 'apache-arrow'
import type { TopicRecord } from '../schema/topic-schema.ts'

// One WebSocket binary message as the ingest service takes it: the session decodes it
// (concurrently), the service checks it against its topic (in order).

/** What one binary message became once decoded and checked against the topic. */
export interface PreparedMessage {
  topic: TopicRecord
  batches: RecordBatch[]
  rows: number
  bytes: number
}

/** A decoded message before it met its topic. */
export interface DecodedMessage {
  schema: Schema
  batches: RecordBatch[]
  rows: number
  bytes: number
}
