import type { RecordBatch, Schema } from 'apache-arrow'
import type { TopicRecord } from '../schema/topic-schema.ts'
import type { SchemaChange } from '../catalog.ts'
import { applyChanges, streamEvolution } from '../catalog/evolution.ts'
import { listSome, matchSchema } from '../arrow/compare.ts'
import { toArrowSchema } from '../schema/types.ts'
import { SchemaIncompatibleError, SchemaMismatchError } from '../errors.ts'
import { validateStream, validateStreamPaced } from './validate-stream.ts'
import { topicArrowSchema } from '../arrow/topic-arrow-schema.ts'

/** The catalog's schema evolution, as ingest reaches it (absent: streams never evolve a topic). */
export interface TopicEvolver {
  evolve?: (name: string, change: SchemaChange) => Promise<TopicRecord>
}

/**
 * The topic as a writer's stream would leave it (schema evolution): when the stream only adds fields
 * to the topic's (the rest matching, lossless conversions allowed), a record with those fields appended as nullable,
 * if the topic's `evolution` is "additive" (AUTO_EVOLVE_TOPICS for topics created without one).
 * Any other stream gets `record` itself: validateStream then names every difference. Nothing is
 * written: a staged request is read against this schema before its topic evolves.
 * @throws SchemaMismatchError when the fields may not be added (evolution "none", declared not null)
 */
export function prospectiveTopic (record: TopicRecord, incoming: Schema, canEvolve = true): TopicRecord {
  const topic = topicArrowSchema(record)
  if (matchSchema(topic, incoming).ok) return record
  // A stream lacking a not-null field of the topic cannot evolve it: validateStream names what is
  // missing, before the prospective schema is built (and judged, e.g. against MAX_SCHEMA_FIELDS).
  const sent = new Set(incoming.fields.map((f) => f.name))
  if (record.schema.fields.some((f) => !f.nullable && !sent.has(f.name))) return record
  // fields added at the top level or inside structs (src/catalog/merge-type.ts)
  const evolution = streamEvolution(record.schema, incoming)
  if (evolution === null) return record
  const { schema, added, notNull } = evolution
  if (!matchSchema(toArrowSchema(schema), incoming).ok) return record
  if (record.evolution === 'none' || !canEvolve) {
    throw new SchemaMismatchError(`unexpected fields: ${listSome(added)}; topic "${record.name}" does not add fields from streams (evolution "none"): an admin can add them with PATCH /v1/topics/${record.name}`)
  }
  if (notNull.length > 0) {
    throw new SchemaMismatchError(`unexpected fields: ${listSome(notNull)} declared not null; a field a stream adds to its topic must be nullable (the rows stored before have no value)`)
  }
  return { ...record, schema }
}

/**
 * prospectiveTopic, written: the topic evolved in the catalog (schemaVersion + 1, or the version
 * another gateway wrote with the same fields). The batches, when given, are checked against the
 * new schema first, so a request refused for its values changes nothing.
 */
export async function evolveForStream (catalog: TopicEvolver, record: TopicRecord, payload: { schema: Schema, batches?: RecordBatch[] }): Promise<TopicRecord> {
  const next = prospectiveTopic(record, payload.schema, catalog.evolve !== undefined)
  if (next === record) return record
  // In slices, as the ingest itself converts (a 500,000-row polars batch held the loop ~1 s here).
  if (payload.batches !== undefined) await validateStreamPaced(next, { schema: payload.schema, batches: payload.batches })
  // new fields, and existing ones whose struct gained fields (the same order: appended after them)
  const changed = next.schema.fields.filter((f, i) => f.type !== record.schema.fields[i]?.type)
  return await catalog.evolve!(record.name, (latest) => {
    try {
      return applyChanges(latest.schema, changed)
    } catch (err) {
      if (!(err instanceof SchemaIncompatibleError)) throw err
      // Another writer changed the topic meanwhile: the stream is judged against the topic as it
      // is now, as a stream (422 QUIVER_SCHEMA_MISMATCH naming the field, what a moment later gives).
      validateStream(prospectiveTopic(latest, payload.schema), { schema: payload.schema, batches: payload.batches ?? [] })
      throw err
    }
  })
}
