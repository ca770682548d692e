import {
  type DataType, type Date_ as DateType, DateUnit, type Decimal, type Dictionary, type Duration, Field, type FixedSizeBinary,
  type FixedSizeList, type Float, type Int, Schema, type Time, type Timestamp, Type
} from 'apache-arrow'
import { fieldBudget, parseType, UNIT_NAMES } from './type-parser.ts'
import { schemaLimits, tooManyFields } from './limits.ts'
import { storageSchema } from './storage-type.ts'
import { checkNewFields } from './new-fields.ts'
import type { FieldSpec, TopicSchema } from './topic-schema.ts'
import { InvalidSchemaError } from '../errors.ts'

export { MAX_TYPE_DEPTH, parseType, TypeParseError } from './type-parser.ts'

/** Column added by the gateway to every stored row; topics may not declare it. */
export const INGESTED_AT = '__ingested_at'

function formatChild (f: Field): string {
  return `${f.name}: ${formatType(f.type)}${f.nullable ? '' : ' not null'}`
}

/** A list's child: its name never matters (pyarrow `item`, parquet `element`, flechette empty), so it prints as `item`. */
function formatItem (f: Field): string {
  return `item: ${formatType(f.type)}${f.nullable ? '' : ' not null'}`
}

/** Canonical pyarrow spelling of a DataType; `parseType(formatType(t))` gives an equal type. */
export function formatType (t: DataType): string {
  switch (t.typeId) {
    case Type.Bool: return 'bool'
    case Type.Int: return `${(t as Int).isSigned ? '' : 'u'}int${(t as Int).bitWidth}`
    case Type.Float: return ['halffloat', 'float', 'double'][(t as Float).precision]
    case Type.Utf8: return 'string'
    case Type.LargeUtf8: return 'large_string'
    case Type.Utf8View: return 'string_view'
    case Type.Binary: return 'binary'
    case Type.LargeBinary: return 'large_binary'
    case Type.BinaryView: return 'binary_view'
    case Type.FixedSizeBinary: return `fixed_size_binary[${(t as FixedSizeBinary).byteWidth}]`
    case Type.Decimal: {
      const d = t as Decimal
      return `decimal${d.bitWidth}(${d.precision}, ${d.scale})`
    }
    case Type.Date: return (t as DateType).unit === DateUnit.DAY ? 'date32[day]' : 'date64[ms]'
    case Type.Time: return `time${(t as Time).bitWidth}[${UNIT_NAMES[(t as Time).unit]}]`
    case Type.Duration: return `duration[${UNIT_NAMES[(t as Duration).unit]}]`
    case Type.Timestamp: {
      const { unit, timezone } = t as Timestamp
      return `timestamp[${UNIT_NAMES[unit]}${timezone ? `, tz=${timezone}` : ''}]`
    }
    case Type.List: return `list<${formatItem(t.children[0])}>`
    case Type.LargeList: return `large_list<${formatItem(t.children[0])}>`
    case Type.FixedSizeList: return `fixed_size_list<${formatItem(t.children[0])}>[${(t as FixedSizeList).listSize}]`
    case Type.Map: {
      const [k, v] = (t.children[0] as Field).type.children as Field[]
      return `map<${formatType(k.type)}, ${formatType(v.type)}${v.nullable ? '' : ' not null'}>`
    }
    case Type.Struct: return `struct<${t.children.map(formatChild).join(', ')}>`
    case Type.Dictionary: {
      const d = t as Dictionary
      return `dictionary<values=${formatType(d.dictionary)}, indices=${formatType(d.indices)}, ordered=${d.isOrdered ? 1 : 0}>`
    }
    default: return String(t).toLowerCase()
  }
}

/**
 * Checks a topic schema and builds its Arrow Schema in one pass: names non-empty, unique, not
 * `__ingested_at`, types parseable, at most MAX_SCHEMA_FIELDS fields counted at every depth.
 * @throws InvalidSchemaError naming the field, e.g. `field "price": unknown type "dubble" at position 0 in "dubble"`.
 */
export function parseTopicSchema (schema: TopicSchema): Schema {
  if (!Array.isArray(schema?.fields) || schema.fields.length === 0) throw new InvalidSchemaError('at least one field is required')
  if (schema.fields.length > schemaLimits.maxFields) throw new InvalidSchemaError(tooManyFields(schema.fields.length))
  const seen = new Set<string>()
  const budget = fieldBudget()
  budget.left -= schema.fields.length
  const fields = schema.fields.map((f, i) => {
    if (typeof f.name !== 'string' || f.name.trim() === '') throw new InvalidSchemaError(`field ${i} has an empty name`)
    if (f.name === INGESTED_AT) throw new InvalidSchemaError(`field "${INGESTED_AT}" is reserved (added by the gateway)`)
    if (seen.has(f.name)) throw new InvalidSchemaError(`duplicate field "${f.name}"`)
    seen.add(f.name)
    try {
      return new Field(f.name, parseType(String(f.type), budget), f.nullable ?? true)
    } catch (err) {
      throw new InvalidSchemaError(`field "${f.name}": ${(err as Error).message}`)
    }
  })
  return new Schema(fields)
}

/**
 * The check of a schema a topic is created with: parseTopicSchema, and what new fields must
 * have (src/schema/new-fields.ts: time zones readers know).
 * @throws InvalidSchemaError naming the field
 */
export function validateTopicSchema (schema: TopicSchema): void {
  checkNewFields(parseTopicSchema(schema).fields)
}

/**
 * Topic schema → the Arrow Schema its batches are stored with (validated; `nullable` defaults to
 * true; date64, time32[s], views and dictionaries as src/schema/storage-type.ts maps them).
 */
export function toArrowSchema (schema: TopicSchema): Schema {
  return storageSchema(parseTopicSchema(schema))
}

/**
 * Arrow Schema → topic schema with canonical type names (e.g. for auto-created topics); dictionaries become their value type.
 * @throws InvalidSchemaError when a field cannot enter a topic (src/schema/new-fields.ts)
 */
export function fromArrowSchema (schema: Schema): TopicSchema {
  checkNewFields(schema.fields)
  return {
    fields: schema.fields.map((f): FieldSpec => ({
      name: f.name,
      // a dictionary-encoded column is stored as its plain values
      type: formatType(f.type.typeId === Type.Dictionary ? (f.type as Dictionary).dictionary : f.type),
      nullable: f.nullable
    }))
  }
}
