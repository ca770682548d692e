import type { RecordBatch, Schema } from 'apache-arrow'
import type { TopicRecord, TopicSchema } from '../schema/topic-schema.ts'
import type { Catalog } from '../catalog.ts'
import type { ArrowPayload } from '../arrow/decode.ts'
import { matchSchema, normaliseBatch } from '../arrow/compare.ts'
import { checkTopicNulls } from '../arrow/validate.ts'
import { normaliseBatchPaced } from '../arrow/normalise-paced.ts'
import { Slicer } from '../arrow/json-slices.ts'
import type { Alloc } from '../arrow/convert.ts'
import { fromArrowSchema } from '../schema/types.ts'
import { primeTopicArrowSchema, topicArrowSchema } from '../arrow/topic-arrow-schema.ts'
import { schemaLimits } from '../schema/limits.ts'
import { InvalidSchemaError, SchemaMismatchError, TopicExistsError, TopicNotFoundError } from '../errors.ts'

/** The part of the catalog an ingest needs. */
export interface TopicLookup {
  get (name: string): Promise<TopicRecord | null>
  create (record: TopicRecord): Promise<TopicRecord>
  /** Schema evolution (src/ingest/evolve-stream.ts); without it streams never evolve a topic. */
  evolve?: Catalog['evolve']
}

/** FieldSpecSchema's maxLength: what POST /v1/topics accepts, so what auto-creation may store. */
const MAX_FIELD_NAME = 255
const WINNER_WAIT_MS = 3000

/**
 * The topic schema a stream would auto-create, held to the rules of POST /v1/topics. Checked
 * before the catalog is written: a stream refused afterwards would leave behind a topic that
 * refuses every later write (duplicate or reserved names) while its own request failed.
 * @throws InvalidSchemaError naming the problem
 */
export function autoCreatedSchema (topic: string, incoming: Schema): TopicSchema {
  const schema = fromArrowSchema(incoming)
  const refuse = (why: string): never => { throw new InvalidSchemaError(`topic "${topic}" cannot be created from this stream's schema: ${why}`) }
  if (schema.fields.length > schemaLimits.maxFields) refuse(`${schema.fields.length} fields, at most ${schemaLimits.maxFields}`)
  const long = schema.fields.find((f) => f.name.length > MAX_FIELD_NAME)
  if (long !== undefined) refuse(`field name "${long.name.slice(0, 40)}…" is longer than ${MAX_FIELD_NAME} characters`)
  try {
    primeTopicArrowSchema(schema)
  } catch (err) {
    refuse((err as Error).message.replace(/^Invalid schema: /, ''))
  }
  return schema
}

/**
 * The topic a stream goes to: from the catalog, or (with AUTO_CREATE_TOPICS) created with the
 * stream's own schema. Two writers racing to create it both end up with the winner's record.
 * @throws TopicNotFoundError when it does not exist and may not be created
 * @throws InvalidSchemaError when the stream's schema cannot become a topic
 */
export async function resolveTopic (catalog: TopicLookup, name: string, incoming: Schema, autoCreate: boolean): Promise<TopicRecord> {
  const found = await catalog.get(name)
  if (found) return found
  if (!autoCreate) throw new TopicNotFoundError(name)
  const schema = autoCreatedSchema(name, incoming)
  try {
    return await catalog.create({ name, schema, createdAt: new Date().toISOString() })
  } catch (err) {
    if (!(err instanceof TopicExistsError)) throw err
    // The winner of an exclusive create on S3 holds its claim a moment before its record is
    // readable: wait for it rather than refuse a writer that merely lost the race.
    for (let waited = 0; waited <= WINNER_WAIT_MS; waited += 100) {
      const winner = await catalog.get(name)
      if (winner) return winner
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw err
  }
}

/**
 * A decoded stream's batches, checked against the topic and rewritten to its field order.
 * @throws SchemaMismatchError naming every differing field
 */
export function validateStream (topic: TopicRecord, payload: Pick<ArrowPayload, 'schema' | 'batches'>): RecordBatch[] {
  const schema = topicArrowSchema(topic)
  const match = matchSchema(schema, payload.schema)
  if (!match.ok) throw new SchemaMismatchError(match.message)
  return payload.batches.map((b) => {
    const normalised = normaliseBatch(b, schema, match.reorder)
    checkTopicNulls(normalised)
    return normalised
  })
}

/**
 * validateStream for the ingest path: the same batches, converted in slices with the event loop
 * turning between them (src/arrow/normalise-paced.ts). One 500,000-row batch from polars
 * (dictionary<uint32, large_string>, timestamp[ms]) held the loop 0.1-2 s in validateStream.
 * `alloc` (the request's BufferLease, when it has one) gives converted columns memory already
 * touched; they are then read only while the request's batches are.
 * @throws SchemaMismatchError naming every differing field
 */
export async function validateStreamPaced (topic: TopicRecord, payload: Pick<ArrowPayload, 'schema' | 'batches'>, o: { alloc?: Alloc } = {}): Promise<RecordBatch[]> {
  const slicer = new Slicer()
  const schema = topicArrowSchema(topic)
  const match = matchSchema(schema, payload.schema)
  if (!match.ok) throw new SchemaMismatchError(match.message)
  const out: RecordBatch[] = []
  for (const b of payload.batches) {
    const normalised = await normaliseBatchPaced(b, schema, match.reorder, { slicer, alloc: o.alloc })
    checkTopicNulls(normalised)
    out.push(normalised)
  }
  return out
}
