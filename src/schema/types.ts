import { type DataType, type Date_ as DateType, type Dictionary, Field, type Float, type Int, Schema, type Timestamp, Type } from 'apache-arrow'
import { parseType, UNIT_NAMES } from './type-parser.ts'
import type { FieldSpec, TopicSchema } from './topic-schema.ts'
import { InvalidSchemaError } from '../errors.ts'

export { MAX_TYPE_DEPTH, parseType, TypeParseError } from './type-parser.ts'

/** Column added by the gateway to every stored row; topics may not declare it. */
export const INGESTED_AT = '__ingested_at'

function formatChild (f: Field): string {
  return `${f.name}: ${formatType(f.type)}${f.nullable ? '' : ' not null'}`
}

/** Canonical pyarrow spelling of a DataType; `parseType(formatType(t))` gives an equal type. */
export function formatType (t: DataType): string {
  switch (t.typeId) {
    case Type.Bool: return 'bool'
    case Type.Int: return `${(t as Int).isSigned ? '' : 'u'}int${(t as Int).bitWidth}`
    case Type.Float: return ['halffloat', 'float', 'double'][(t as Float).precision]
    case Type.Utf8: return 'string'
    case Type.LargeUtf8: return 'large_string'
    case Type.Binary: return 'binary'
    case Type.LargeBinary: return 'large_binary'
    case Type.Date: return (t as DateType).unit === 0 ? 'date32[day]' : 'date64[ms]'
    case Type.Timestamp: {
      const { unit, timezone } = t as Timestamp
      return `timestamp[${UNIT_NAMES[unit]}${timezone ? `, tz=${timezone}` : ''}]`
    }
    case Type.List: return `list<${formatChild(t.children[0])}>`
    case Type.Struct: return `struct<${t.children.map(formatChild).join(', ')}>`
    case Type.Dictionary: {
      const d = t as Dictionary
      return `dictionary<values=${formatType(d.dictionary)}, indices=${formatType(d.indices)}, ordered=${d.isOrdered ? 1 : 0}>`
    }
    default: return String(t).toLowerCase()
  }
}

/**
 * Checks a topic schema: names non-empty, unique, not `__ingested_at`, types parseable.
 * @throws InvalidSchemaError naming the field, e.g. `field "price": unknown type "dubble" at position 0 in "dubble"`.
 */
export function validateTopicSchema (schema: TopicSchema): void {
  if (!Array.isArray(schema?.fields) || schema.fields.length === 0) throw new InvalidSchemaError('at least one field is required')
  const seen = new Set<string>()
  schema.fields.forEach((f, i) => {
    if (typeof f.name !== 'string' || f.name.trim() === '') throw new InvalidSchemaError(`field ${i} has an empty name`)
    if (f.name === INGESTED_AT) throw new InvalidSchemaError(`field "${INGESTED_AT}" is reserved (added by the gateway)`)
    if (seen.has(f.name)) throw new InvalidSchemaError(`duplicate field "${f.name}"`)
    seen.add(f.name)
    try {
      parseType(String(f.type))
    } catch (err) {
      throw new InvalidSchemaError(`field "${f.name}": ${(err as Error).message}`)
    }
  })
}

/** Topic schema → Arrow Schema (validated first; `nullable` defaults to true). */
export function toArrowSchema (schema: TopicSchema): Schema {
  validateTopicSchema(schema)
  return new Schema(schema.fields.map(f => new Field(f.name, parseType(f.type), f.nullable ?? true)))
}

/** Arrow Schema → topic schema with canonical type names (e.g. for auto-created topics); dictionaries become their value type. */
export function fromArrowSchema (schema: Schema): TopicSchema {
  return {
    fields: schema.fields.map((f): FieldSpec => ({
      name: f.name,
      // a dictionary-encoded column is stored as its plain values
      type: formatType(f.type.typeId === Type.Dictionary ? (f.type as Dictionary).dictionary : f.type),
      nullable: f.nullable
    }))
  }
}
