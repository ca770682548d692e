import type { Field, RecordBatch, Schema } from 'apache-arrow'
import { batchOf } from './batch.ts'
import { formatType } from '../schema/types.ts'
import { acceptedFor } from '../schema/accepted.ts'
import { convertData, convertible, nullData } from './convert.ts'

export type SchemaMatch =
  | { ok: true, reorder: null | number[] }
  | { ok: false, message: string }

const matchCache = new WeakMap<Schema, WeakMap<Schema, SchemaMatch>>()
const indexCache = new WeakMap<Schema, Map<string, number>>()

function fieldProblem (topic: Field, incoming: Field): string | null {
  // Nullability is checked on the data (checkTopicNulls): a field declared nullable whose
  // batches hold no null fits a non-nullable column (polars declares every field nullable).
  if (convertible(topic.type, incoming.type)) return null
  return `${topic.name}: expected ${formatType(topic.type)}, got ${formatType(incoming.type)}; accepted: ${acceptedFor(topic.type)}`
}

const LISTED = 20

/** A list for an error message: the first 20, then how many more (a 10,000-column schema must not make a 70 KB message). */
export function listSome (items: readonly string[], sep = ', '): string {
  return items.length <= LISTED ? items.join(sep) : `${items.slice(0, LISTED).join(sep)}${sep}… and ${items.length - LISTED} more`
}

function topicIndex (topic: Schema): Map<string, number> {
  let m = indexCache.get(topic)
  if (m === undefined) {
    m = new Map(topic.fields.map((f, i) => [f.name, i]))
    indexCache.set(topic, m)
  }
  return m
}

function compute (topic: Schema, incoming: Schema): SchemaMatch {
  const tf = topic.fields
  const inf = incoming.fields
  // fast path: same names in the same order (the common case), one pass
  if (tf.length === inf.length && tf.every((f, i) => f.name === inf[i].name)) {
    const problems = tf.map((f, i) => fieldProblem(f, inf[i])).filter(p => p !== null)
    return problems.length === 0 ? { ok: true, reorder: null } : { ok: false, message: listSome(problems as string[], '; ') }
  }
  const index = topicIndex(topic)
  const reorder = new Array<number>(tf.length).fill(-1)
  const extra: string[] = []
  const dup: string[] = []
  const problems: string[] = []
  inf.forEach((f, j) => {
    const i = index.get(f.name)
    if (i === undefined) extra.push(f.name)
    else if (reorder[i] !== -1) dup.push(f.name)
    else {
      reorder[i] = j
      const p = fieldProblem(tf[i], f)
      if (p !== null) problems.push(p)
    }
  })
  // A stream may omit nullable fields (stored as nulls, see normaliseBatch): older producers keep working after a field is added.
  const missing = tf.filter((f, i) => reorder[i] === -1 && !f.nullable).map(f => f.name)
  const parts: string[] = []
  if (missing.length > 0) parts.push(`missing fields: ${listSome(missing)} (not null in the topic)`)
  if (extra.length > 0) parts.push(`unexpected fields: ${listSome(extra)}`)
  if (dup.length > 0) parts.push(`duplicate fields: ${listSome(dup)}`)
  if (problems.length > 0) parts.push(listSome(problems, '; '))
  return parts.length === 0 ? { ok: true, reorder } : { ok: false, message: parts.join('; ') }
}

/**
 * Compares an incoming Arrow schema with the topic's: names, types and nullability; column order
 * may differ; nullable topic fields may be missing. `reorder[i]` is the incoming column index of
 * topic field i, -1 when the stream omits it (null: same order, nothing omitted).
 * Results are cached per (topic, incoming) schema object, so calling it for every batch is cheap.
 * Failure messages name every differing field, e.g.
 * `missing fields: ok (not null in the topic); unexpected fields: extra; price: expected double, got int64`.
 */
export function matchSchema (topic: Schema, incoming: Schema): SchemaMatch {
  let inner = matchCache.get(topic)
  if (inner === undefined) { inner = new WeakMap(); matchCache.set(topic, inner) }
  let m = inner.get(incoming)
  if (m === undefined) { m = compute(topic, incoming); inner.set(incoming, m) }
  return m
}

/**
 * A RecordBatch whose schema is exactly `topic` (same Schema object: topic field order, Field
 * objects and metadata), from a batch that `matchSchema` accepted. Buffers are shared where the
 * types agree; columns of a narrower or differently encoded type are converted (src/arrow/convert.ts).
 * @throws SchemaMismatchError when a value cannot be represented in the topic's type
 */
export function normaliseBatch (batch: RecordBatch, topic: Schema, reorder: null | number[]): RecordBatch {
  const cols = batch.data.children
  const fields = topic.fields
  const children = fields.map((f, i) => {
    const j = reorder === null ? i : reorder[i]
    return j === -1 ? nullData(f.type, batch.numRows) : convertData(cols[j], f.type, f.name)
  })
  return batchOf(topic, children, batch.numRows)
}
