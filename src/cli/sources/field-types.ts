import {
  Binary, Bool, DataType, DateDay, DateMillisecond, Float16, Float32, Float64, Int8, Int16, Int32, Int64,
  LargeUtf8, TimeUnit, Timestamp, Uint8, Uint16, Uint32, Uint64, Utf8, Field, Schema
} from 'apache-arrow'
import type { FieldSpec } from '../../schema/topic-schema.ts'

/** The pyarrow-style type names the CLI can produce from text (CSV/JSON); anything else needs an Arrow or Parquet input. */
const SIMPLE: Record<string, () => DataType> = {
  int8: () => new Int8(),
  int16: () => new Int16(),
  int32: () => new Int32(),
  int64: () => new Int64(),
  uint8: () => new Uint8(),
  uint16: () => new Uint16(),
  uint32: () => new Uint32(),
  uint64: () => new Uint64(),
  halffloat: () => new Float16(),
  float: () => new Float32(),
  float32: () => new Float32(),
  double: () => new Float64(),
  float64: () => new Float64(),
  bool: () => new Bool(),
  string: () => new Utf8(),
  utf8: () => new Utf8(),
  large_string: () => new LargeUtf8(),
  large_utf8: () => new LargeUtf8(),
  binary: () => new Binary(),
  date32: () => new DateDay(),
  'date32[day]': () => new DateDay(),
  date64: () => new DateMillisecond(),
  'date64[ms]': () => new DateMillisecond()
}

const UNITS: Record<string, TimeUnit> = { s: TimeUnit.SECOND, ms: TimeUnit.MILLISECOND, us: TimeUnit.MICROSECOND, ns: TimeUnit.NANOSECOND }

export function typeFromName (name: string): DataType {
  const simple = SIMPLE[name.trim()]
  if (simple) return simple()
  const ts = /^timestamp\[(s|ms|us|ns)(?:,\s*tz=([^\]]+))?\]$/.exec(name.trim())
  if (ts) return new Timestamp(UNITS[ts[1]], ts[2] ?? null)
  throw new Error(`the CLI cannot convert text to the type "${name}"; send an Arrow or Parquet file instead`)
}

export function typeName (type: DataType): string {
  if (DataType.isTimestamp(type)) {
    const unit = ['s', 'ms', 'us', 'ns'][type.unit]
    return type.timezone ? `timestamp[${unit}, tz=${type.timezone}]` : `timestamp[${unit}]`
  }
  if (DataType.isInt(type)) return `${type.isSigned ? 'int' : 'uint'}${type.bitWidth}`
  if (DataType.isFloat(type)) return ['halffloat', 'float', 'double'][type.precision]
  if (DataType.isBool(type)) return 'bool'
  if (DataType.isUtf8(type)) return 'string'
  if (DataType.isLargeUtf8(type)) return 'large_string'
  return String(type).toLowerCase()
}

export function schemaFromSpecs (fields: FieldSpec[]): Schema {
  return new Schema(fields.map(f => new Field(f.name, typeFromName(f.type), f.nullable !== false)))
}

export function specsFromSchema (schema: Schema): FieldSpec[] {
  return schema.fields.map(f => ({ name: f.name, type: typeName(f.type), nullable: f.nullable }))
}
