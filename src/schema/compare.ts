import { type Data, type DataType, type Dictionary, type Field, type RecordBatch, type Schema, Type } from 'apache-arrow'
import { batchOf } from '../arrow/batch.ts'
import { decodeDictionary } from '../arrow/dictionary.ts'
import { formatType } from './types.ts'

export type SchemaMatch =
  | { ok: true, reorder: null | number[] }
  | { ok: false, message: string }

const matchCache = new WeakMap<Schema, WeakMap<Schema, SchemaMatch>>()
const indexCache = new WeakMap<Schema, Map<string, number>>()

/** Incoming dictionary columns are accepted where the topic has their plain value type. */
function plain (t: DataType): DataType {
  return t.typeId === Type.Dictionary ? (t as Dictionary).dictionary : t
}

/**
 * Why `incoming` cannot be stored as `topic`, or null when it can. Names of struct children
 * matter, the name of a list's child does not (pyarrow says `item`, others `element`).
 */
function typeProblem (topic: DataType, incoming: DataType): string | null {
  const got = plain(incoming)
  if (topic.typeId !== got.typeId) return `expected ${formatType(topic)}, got ${formatType(incoming)}`
  switch (topic.typeId) {
    case Type.List:
    case Type.Struct: {
      const a = topic.children as Field[]
      const b = got.children as Field[]
      const same = a.length === b.length && a.every((f, i) =>
        (topic.typeId === Type.List || f.name === b[i].name) &&
        (f.nullable || !b[i].nullable) &&
        typeProblem(f.type, b[i].type) === null)
      return same ? null : `expected ${formatType(topic)}, got ${formatType(incoming)}`
    }
    case Type.Int: case Type.Float: case Type.Date: case Type.Timestamp:
      return formatType(topic) === formatType(got) ? null : `expected ${formatType(topic)}, got ${formatType(incoming)}`
    default: return null
  }
}

function fieldProblem (topic: Field, incoming: Field): string | null {
  const p = typeProblem(topic.type, incoming.type)
  if (p !== null) return `${topic.name}: ${p}`
  if (!topic.nullable && incoming.nullable) return `${topic.name}: expected non-nullable, got nullable`
  return null
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
  const missing = tf.filter((_, i) => reorder[i] === -1).map(f => f.name)
  const parts: string[] = []
  if (missing.length > 0) parts.push(`missing fields: ${listSome(missing)}`)
  if (extra.length > 0) parts.push(`unexpected fields: ${listSome(extra)}`)
  if (dup.length > 0) parts.push(`duplicate fields: ${listSome(dup)}`)
  if (problems.length > 0) parts.push(listSome(problems, '; '))
  return parts.length === 0 ? { ok: true, reorder } : { ok: false, message: parts.join('; ') }
}

/**
 * Compares an incoming Arrow schema with the topic's: names, types and nullability; column order
 * may differ. `reorder[i]` is the incoming column index of topic field i (null: same order).
 * Results are cached per (topic, incoming) schema object, so calling it for every batch is cheap.
 * Failure messages name every differing field, e.g.
 * `missing fields: ok; unexpected fields: extra; price: expected double, got int64`.
 */
export function matchSchema (topic: Schema, incoming: Schema): SchemaMatch {
  let inner = matchCache.get(topic)
  if (inner === undefined) { inner = new WeakMap(); matchCache.set(topic, inner) }
  let m = inner.get(incoming)
  if (m === undefined) { m = compute(topic, incoming); inner.set(incoming, m) }
  return m
}

/** Puts the topic's nested types (child names, e.g. a list's `item`) on `data` without copying buffers. */
function retype (data: Data, type: DataType): Data {
  if (data.typeId === Type.Dictionary && type.typeId !== Type.Dictionary) data = decodeDictionary(data as Data<Dictionary>)
  // leaves already equal the topic's type (matchSchema checked): keep the Data, cloning costs
  if (data.type === type || (type.typeId !== Type.List && type.typeId !== Type.Struct)) return data
  const kids = type.children as Field[]
  const children = data.children.map((c, i) => retype(c, kids[i].type))
  return data.clone(type, undefined, undefined, undefined, undefined, children)
}

/**
 * A RecordBatch whose schema is exactly `topic` (same Schema object: topic field order, Field
 * objects and metadata), from a batch that `matchSchema` accepted. Buffers are shared, not copied;
 * only dictionary-encoded columns are decoded to plain values.
 */
export function normaliseBatch (batch: RecordBatch, topic: Schema, reorder: null | number[]): RecordBatch {
  const cols = batch.data.children
  const fields = topic.fields
  const children = fields.map((f, i) => retype(cols[reorder === null ? i : reorder[i]], f.type))
  return batchOf(topic, children, batch.numRows)
}
