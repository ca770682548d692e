import { type DataType, type Dictionary, Field, FixedSizeList, LargeList, List, Map_, Struct, Type } from 'apache-arrow'
import { convertible, kids, LISTS } from '../arrow/convert.ts'

/*
 * Schema evolution inside nested types: a struct gains fields the way a topic does (nullable, after
 * the existing ones), at any depth (struct in struct, in a list's item, in a map's value).
 * mergeType gives the type a column must have to hold both what it held (`have`) and what
 * arrives (`incoming`): a stream's column that adds struct fields, or a change another gateway
 * made meanwhile. Everything it keeps from `have` is unchanged (names, order, nullability, list
 * child names), so every stored object still converts into it (src/arrow/convert.ts).
 */

export interface Merge {
  /** Paths of the struct fields the merge adds, e.g. `st.c`, `items.item.tag`. */
  added: string[]
  /** Paths of added fields `incoming` declares not null (a field added to stored rows must be nullable). */
  notNull: string[]
  /** Whether a wider type in `incoming` widens `have` (two schema changes merged); a stream only adds fields. */
  widen?: boolean
}

/** A dictionary is an encoding: a field it adds is typed by its values, as an auto-created topic would be. */
function plain (t: DataType): DataType {
  return t.typeId === Type.Dictionary ? plain((t as Dictionary).dictionary) : t
}

/**
 * The narrowest type holding every value of `have` and of `incoming` unchanged, adding only
 * nullable struct fields; `have` itself when `incoming` already converts into it; null when no
 * such type exists (another difference: validation names it).
 */
export function mergeType (have: DataType, incoming: DataType, path: string, out: Merge): DataType | null {
  if (convertible(have, incoming)) return have
  if (out.widen === true && convertible(incoming, have) && incoming.typeId !== Type.Dictionary) return incoming
  const inc = plain(incoming)
  if (have.typeId === Type.Struct && inc.typeId === Type.Struct) {
    const theirs = new Map(kids(inc).map((f) => [f.name, f]))
    const fields: Field[] = []
    for (const f of kids(have)) {
      const other = theirs.get(f.name)
      theirs.delete(f.name)
      if (other === undefined) { fields.push(f); continue }
      const t = mergeType(f.type, other.type, `${path}.${f.name}`, out)
      if (t === null) return null
      fields.push(t === f.type ? f : new Field(f.name, t, f.nullable, f.metadata))
    }
    for (const f of theirs.values()) {
      out.added.push(`${path}.${f.name}`)
      if (!f.nullable) out.notNull.push(`${path}.${f.name}`)
      fields.push(new Field(f.name, plainDeep(f.type), true))
    }
    return new Struct(fields)
  }
  const same = have.typeId === inc.typeId || (LISTS.has(have.typeId) && LISTS.has(inc.typeId))
  if (!same || ![Type.List, Type.LargeList, Type.FixedSizeList, Type.Map].includes(have.typeId)) return null
  if (have.typeId === Type.FixedSizeList && (have as FixedSizeList).listSize !== (inc as FixedSizeList).listSize) return null
  if (have.typeId === Type.Map) {
    const [hk, hv] = kids(kids(have)[0].type)
    const [ik, iv] = kids(kids(inc)[0].type)
    if (!convertible(hk.type, ik.type)) return null
    const v = mergeType(hv.type, iv.type, `${path}.value`, out)
    if (v === null) return null
    const entries = kids(have)[0]
    const kv = new Struct([hk, new Field(hv.name, v, hv.nullable, hv.metadata)])
    return new Map_(new Field(entries.name, kv, entries.nullable) as Field<Struct>, (have as Map_).keysSorted)
  }
  const item = kids(have)[0]
  const t = mergeType(item.type, kids(inc)[0].type, `${path}.item`, out)
  if (t === null) return null
  const child = new Field(item.name, t, item.nullable, item.metadata)
  if (have.typeId === Type.FixedSizeList) return new FixedSizeList((have as FixedSizeList).listSize, child)
  return have.typeId === Type.List ? new List(child) : new LargeList(child)
}

/** `t` with every dictionary replaced by its values, at any depth. */
function plainDeep (t: DataType): DataType {
  const p = plain(t)
  switch (p.typeId) {
    case Type.Struct: return new Struct(kids(p).map((f) => new Field(f.name, plainDeep(f.type), f.nullable, f.metadata)))
    case Type.List: return new List(plainField(kids(p)[0]))
    case Type.LargeList: return new LargeList(plainField(kids(p)[0]))
    case Type.FixedSizeList: return new FixedSizeList((p as FixedSizeList).listSize, plainField(kids(p)[0]))
    case Type.Map: {
      const e = kids(p)[0]
      return new Map_(new Field(e.name, new Struct(kids(e.type).map(plainField)), e.nullable) as Field<Struct>, (p as Map_).keysSorted)
    }
    default: return p
  }
}

function plainField (f: Field): Field {
  return new Field(f.name, plainDeep(f.type), f.nullable, f.metadata)
}
