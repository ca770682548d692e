import { type DataType, type FixedSizeList, type Schema, Type } from 'apache-arrow'
import type { FieldSpec, TopicRecord, TopicSchema } from '../schema/topic-schema.ts'
import { formatType, fromArrowSchema, parseTopicSchema } from '../schema/types.ts'
import { checkNewFields } from '../schema/new-fields.ts'
import { convertible, kids, LISTS } from '../arrow/convert.ts'
import { listSome } from '../arrow/compare.ts'
import { type Merge, mergeType } from './merge-type.ts'
import { specOf } from '../lake/partition-spec.ts'
import { SchemaIncompatibleError } from '../errors.ts'

/*
 * Which schema changes are compatible. A schema change is a list of field specs: fields to add (always
 * nullable: the rows stored before have no value for them) and existing fields whose type widens
 * (a lossless widening: every old value converts unchanged) or that become nullable. Nothing is ever dropped,
 * narrowed or made not-null. A change is computed once against the version the caller saw and
 * then applied to whatever version is latest when it is written (applyChanges), so a change
 * racing another one on another gateway keeps both sides' fields. Structs follow the same rules
 * at any depth (src/catalog/merge-type.ts): a struct may gain nullable fields, never lose one.
 */

const canonical = (t: DataType): string => formatType(t)

function typesOf (schema: TopicSchema): Map<string, { type: DataType, nullable: boolean }> {
  return new Map(parseTopicSchema(schema).fields.map((f) => [f.name, { type: f.type, nullable: f.nullable }]))
}

/** Fields the topic's layout depends on: their type and nullability stay as created. */
function partitionFields (record: TopicRecord): Set<string> {
  const spec = specOf(record)
  return new Set([...spec.partitionBy, spec.timePartition.field])
}

/**
 * Why a column of type `have` cannot become `want` (empty when it can): inside structs each
 * field is named with its path (`st.inner.x: removed …`), the rules of a top-level field.
 */
function typeProblems (have: DataType, want: DataType, path: string): string[] {
  if (have.typeId === Type.Struct && want.typeId === Type.Struct) {
    const wanted = new Map(kids(want).map((f) => [f.name, f]))
    const problems: string[] = []
    for (const h of kids(have)) {
      const w = wanted.get(h.name)
      wanted.delete(h.name)
      if (w === undefined) problems.push(`${path}.${h.name}: removed (fields are never dropped; stored rows keep it)`)
      else {
        problems.push(...typeProblems(h.type, w.type, `${path}.${h.name}`))
        if (h.nullable && !w.nullable) problems.push(`${path}.${h.name}: cannot become not null (stored rows may hold nulls)`)
      }
    }
    for (const w of wanted.values()) if (!w.nullable) problems.push(`${path}.${w.name}: a new field must be nullable (the rows stored before have no value)`)
    return problems
  }
  const lists = LISTS.has(have.typeId) && LISTS.has(want.typeId)
  const fixed = have.typeId === Type.FixedSizeList && want.typeId === Type.FixedSizeList && (have as FixedSizeList).listSize === (want as FixedSizeList).listSize
  if (lists || fixed) return typeProblems(kids(have)[0].type, kids(want)[0].type, `${path}.item`)
  if (have.typeId === Type.Map && want.typeId === Type.Map) {
    const [hk, hv] = kids(kids(have)[0].type)
    const [wk, wv] = kids(kids(want)[0].type)
    if (convertible(wk.type, hk.type)) return typeProblems(hv.type, wv.type, `${path}.value`)
  }
  return convertible(want, have) ? [] : [`${path}: ${canonical(have)} cannot become ${canonical(want)} (only a lossless widening keeps every stored value)`]
}

/**
 * What `desired` (a whole schema, as PATCH /v1/topics/{topic} sends it) changes in `current`.
 * @throws SchemaIncompatibleError naming each field and why
 * @throws InvalidSchemaError (400) when `desired` is not a valid schema at all
 */
export function schemaChanges (current: TopicRecord, desired: TopicSchema): FieldSpec[] {
  const now = typesOf(current.schema)
  const next = parseTopicSchema(desired)
  const fixed = partitionFields(current)
  const problems: string[] = []
  const changes: FieldSpec[] = []
  const wanted = new Set(next.fields.map((f) => f.name))
  for (const [name] of now) if (!wanted.has(name)) problems.push(`${name}: removed (fields are never dropped; stored rows keep it)`)
  next.fields.forEach((f, i) => {
    const spec = { name: f.name, type: String(desired.fields[i].type), nullable: f.nullable }
    const old = now.get(f.name)
    if (old === undefined) {
      if (!f.nullable) problems.push(`${f.name}: a new field must be nullable (the rows stored before have no value)`)
      else changes.push(spec)
      return
    }
    const sameType = canonical(old.type) === canonical(f.type)
    if (sameType && old.nullable === f.nullable) return
    if (fixed.has(f.name)) {
      problems.push(`${f.name}: partitions are keyed by it, so its type and nullability stay ${canonical(old.type)}${old.nullable ? '' : ' not null'}`)
      return
    }
    const nested = sameType ? [] : typeProblems(old.type, f.type, f.name)
    if (nested.length > 0) problems.push(...nested)
    else if (old.nullable && !f.nullable) problems.push(`${f.name}: cannot become not null (stored rows may hold nulls)`)
    else changes.push(spec)
  })
  if (problems.length > 0) throw new SchemaIncompatibleError(listSome(problems, '; '))
  // Only what changes is judged as new: a field the topic already holds stays as it was created.
  const changed = new Set(changes.map((c) => c.name))
  checkNewFields(next.fields.filter((f) => changed.has(f.name)))
  return changes
}

/**
 * `current` with `changes` applied (fields already there widened or relaxed, new ones appended in
 * order), or null when it holds them already. A field that another change widened further in
 * the meantime keeps the wider type.
 * @throws SchemaIncompatibleError when a concurrent change made a field incompatible with this one
 */
export function applyChanges (current: TopicSchema, changes: FieldSpec[]): TopicSchema | null {
  if (changes.length === 0) return null
  const now = typesOf(current)
  const fields = current.fields.map((f) => ({ ...f, nullable: f.nullable ?? true }))
  const at = new Map(fields.map((f, i) => [f.name, i]))
  const wanted = typesOf({ fields: changes })
  let changed = false
  for (const c of changes) {
    const i = at.get(c.name)
    if (i === undefined) {
      at.set(c.name, fields.length)
      fields.push({ name: c.name, type: c.type, nullable: true })
      changed = true
      continue
    }
    const old = now.get(c.name)!
    const want = wanted.get(c.name)!
    if (canonical(old.type) !== canonical(want.type)) {
      if (convertible(want.type, old.type)) {
        fields[i].type = c.type
        changed = true
      } else if (!convertible(old.type, want.type)) {
        // both sides changed a nested type (e.g. each added a field to one struct): keep both
        const merged = mergeType(old.type, want.type, c.name, { added: [], notNull: [], widen: true })
        if (merged === null) throw new SchemaIncompatibleError(`${c.name}: ${canonical(old.type)} (changed meanwhile) cannot become ${canonical(want.type)}`)
        fields[i].type = canonical(merged)
        changed = true
      }
    }
    if (!old.nullable && want.nullable) {
      fields[i].nullable = true
      changed = true
    }
  }
  return changed ? { fields } : null
}

/** What a writer's stream adds to its topic (README, Schema evolution): the prospective schema and the added paths. */
export interface StreamEvolution extends Merge {
  schema: TopicSchema
}

/**
 * The topic schema with what `incoming` adds: fields the topic lacks appended (in the stream's
 * order, nullable, dictionaries as their value type, as an auto-created topic would have them)
 * and struct fields added at any depth. Null when the stream adds nothing. Other differences
 * are left as they are for validation to name.
 */
export function streamEvolution (topic: TopicSchema, incoming: Schema): StreamEvolution | null {
  // First: a stream's field that no topic may hold (src/schema/new-fields.ts) is 400 whatever it adds.
  const sentSpecs = fromArrowSchema(incoming).fields
  const declared = parseTopicSchema(topic).fields
  const sent = new Map(incoming.fields.map((f) => [f.name, f]))
  const out: Merge = { added: [], notNull: [] }
  const fields = topic.fields.map((spec, i) => {
    const f = sent.get(spec.name)
    const have = declared[i].type
    if (f === undefined || convertible(have, f.type)) return spec
    const merged = mergeType(have, f.type, spec.name, out)
    return merged === null || merged === have ? spec : { ...spec, type: canonical(merged) }
  })
  const known = new Set(topic.fields.map((f) => f.name))
  for (const f of sentSpecs) {
    if (known.has(f.name)) continue
    out.added.push(f.name)
    if (!f.nullable) out.notNull.push(f.name)
    fields.push({ ...f, nullable: true })
  }
  return out.added.length === 0 ? null : { schema: { fields }, added: out.added, notNull: out.notNull }
}
