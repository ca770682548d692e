import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { SchemaIncompatibleError, TopicNotFoundError } from '../../../../src/errors.ts'
import { specOf } from '../../../../src/lake/partition-spec.ts'
import { guarded, guardedCatalog } from '../../../../src/pipeline/guard.ts'
import { errorResponses } from '../../../../src/http/error-schema.ts'
import { TopicParamsSchema } from '../../../../src/http/params.ts'
import { TopicDetailSchema, TopicVersionSchema } from '../../../../src/http/topic-schemas.ts'
import { TopicSchemaSchema } from '../../../../src/schema/topic-schema.ts'
import { applyChanges, schemaChanges } from '../../../../src/catalog/evolution.ts'
import type { FieldSpec, TopicRecord } from '../../../../src/schema/topic-schema.ts'

/** The topic as GET and PATCH show it (the catalog sets version and evolution on every record it returns). */
const shown = (r: TopicRecord) => ({ ...r, ...specOf(r), schemaVersion: r.schemaVersion ?? 1, evolution: r.evolution ?? 'additive' as const })

export const EVOLVE_DESCRIPTION = `Evolves the topic's schema. Send the whole new schema. Compatible: every
existing field kept, with the same type or a lossless widening (int32 → int64, float → double,
timestamp[ms] → timestamp[us], string ↔ large_string, decimal precision up…), or made nullable;
every new field nullable (new fields are appended after the existing ones). The answer is 200
with the topic at its next \`schemaVersion\`; a schema that changes nothing answers 200 with the
version unchanged. Anything else is 422 \`QUIVER_SCHEMA_INCOMPATIBLE\` naming each field and why.
Partition fields keep their type. Every version stays in the catalog; rows stored under an older
version read back with nulls in the fields it lacked. Two gateways evolving one topic at once
both keep their fields (each change is applied on top of the other's). Send \`baseVersion\` (the
\`schemaVersion\` your schema was read at) so fields that others added since are kept rather than
counted as removed. Example: a topic
\`{id: int64 not null, qty: int32}\` PATCHed with \`{id: int64 not null, qty: int64, country: string}\`
answers version 2; PATCHed with \`{id: int32 not null}\` it answers 422 naming \`qty\` (removed) and
\`id\` (int64 cannot become int32).`

const topicRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const catalog = guardedCatalog(fastify.catalog)

  /** Version `n` of a topic from the catalog's history; null for an unknown topic, 422 for a version it never had. */
  async function versionOf (topic: string, n: number): Promise<TopicRecord | null> {
    const all = await catalog.versions(topic)
    if (all.length === 0) return null
    const found = all.find((v) => v.schemaVersion === n)
    if (found === undefined) throw new SchemaIncompatibleError(`baseVersion ${n}: the topic's versions are 1 to ${all[all.length - 1].schemaVersion ?? 1}`)
    return found
  }
  fastify.get('', {
    config: { role: 'read' },
    schema: {
      tags: ['topics'],
      summary: 'A topic, its schema (latest version) and its committed-data stats',
      security: [{ bearerAuth: [] }],
      params: TopicParamsSchema,
      response: { 200: TopicDetailSchema, ...errorResponses(401, 403, 404, 503) }
    }
  }, async (request) => {
    const { topic } = request.params
    const record = await catalog.get(topic)
    if (!record) throw new TopicNotFoundError(topic)
    const s = await guarded(fastify.pipeline.topicStats(topic, record.createdAt))
    return { ...shown(record), stats: { rows: s.committedRows, bytes: s.committedBytes, files: s.files, lastFlushAt: s.lastFlushAt } }
  })

  fastify.patch('', {
    config: { role: 'admin' },
    schema: {
      tags: ['topics'],
      summary: 'Evolve the topic\'s schema: add nullable fields, widen types',
      description: EVOLVE_DESCRIPTION,
      security: [{ bearerAuth: [] }],
      params: TopicParamsSchema,
      body: Type.Object({
        schema: TopicSchemaSchema,
        baseVersion: Type.Optional(Type.Integer({ minimum: 1, description: 'The `schemaVersion` the schema was written against (as `GET` showed it). Fields added after it, by another admin, gateway or stream, are kept rather than counted as removed. Without it the body is judged against the version this gateway serves (cached for at most 2 s).' }))
      }, { additionalProperties: false }),
      response: { 200: TopicVersionSchema, ...errorResponses(400, 401, 403, 404, 422, 503) }
    }
  }, async (request) => {
    const { topic } = request.params
    const { schema: desired, baseVersion } = request.body
    // The body is judged against the version it was written from: `baseVersion` when the admin
    // names it (exact, whatever changed since), else the version this gateway serves (what a GET
    // here showed, cached for at most 2 s). Fields added after that version are not "removed" by a
    // body that never saw them. Its additions are applied on top of the latest version, again
    // after a lost race, so neither side's fields are lost.
    const seen = baseVersion === undefined ? await catalog.get(topic) : await versionOf(topic, baseVersion)
    if (seen === null) throw new TopicNotFoundError(topic)
    const changes: FieldSpec[] = schemaChanges(seen, desired)
    const record = await catalog.evolve(topic, (latest) => applyChanges(latest.schema, changes))
    request.log.info({ topic, schemaVersion: record.schemaVersion, by: request.principal?.sub }, 'topic schema evolved')
    return shown(record)
  })

  fastify.delete('', {
    config: { role: 'admin' },
    schema: {
      tags: ['topics'],
      summary: 'Remove a topic from the catalog (its Parquet objects stay)',
      security: [{ bearerAuth: [] }],
      params: TopicParamsSchema,
      response: { 204: { type: 'null', description: 'deleted' }, ...errorResponses(401, 403, 404, 503) }
    }
  }, async (request, reply) => {
    const { topic } = request.params
    if (!(await catalog.delete(topic))) throw new TopicNotFoundError(topic)
    request.log.info({ topic, by: request.principal?.sub }, 'topic deleted')
    return reply.code(204).send(null)
  })
}

export default topicRoutes
