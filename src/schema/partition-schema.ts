import { Type as T } from '@sinclair/typebox'
import { INGESTED_AT } from './types.ts'

// The shape of a topic's partition spec, as requests and the catalog hold it; the rules that check
// it against the topic live in src/lake/partition-spec.ts (lake builds on schema, not the reverse).

/** Most partition columns a topic may declare: each one is a directory level of every key. */
export const MAX_PARTITION_COLUMNS = 8

export const TimePartitionSchema = T.Object({
  field: T.String({ description: `a non-nullable timestamp field of the topic, or "${INGESTED_AT}" (the gateway's arrival time)` }),
  granularity: T.Union([T.Literal('hour'), T.Literal('day')])
}, { additionalProperties: false, description: `UTC time bucket of the key (default {"field": "${INGESTED_AT}", "granularity": "hour"})` })

export const PartitionBySchema = T.Array(T.String(), {
  maxItems: MAX_PARTITION_COLUMNS,
  description: 'top-level string, integer, bool or date32 fields; each becomes a `name=value/` level of the key, before the time bucket'
})
