import {
  Binary, type DataType, type Date_, DateDay, Decimal, DateUnit, type Dictionary, Field, FixedSizeList, LargeList, List, Map_, Schema, Struct, Time,
  TimeUnit, Type, Utf8
} from 'apache-arrow'

/**
 * The Arrow type a topic's column is stored as, for a declared type. Most types are stored
 * as declared; a few are rewritten so that every Parquet reader gets the logical type:
 * - `date64[ms]` → `date32[day]`: written as-is it is an INT64 without the DATE annotation
 *   (DuckDB reads BIGINT); date64 values are whole days by the Arrow spec, so nothing is lost.
 * - `time32[s]` → `time32[ms]`: Parquet's TIME has no seconds unit (it was stored as a bare INT32).
 * - `decimal32` / `decimal64` / `decimal256` with precision ≤ 38 → `decimal128`: the same values;
 *   DuckDB reads a 32-byte decimal as a DOUBLE (wrong digits, measured with 1.5.5) and polars
 *   refuses it, both read decimal128 exactly. decimal256 beyond 38 digits stays (see README).
 * - `string_view` / `binary_view` → `string` / `binary`; `dictionary<values=T>` → T: encodings,
 *   not types (Parquet has its own dictionary encoding).
 * Nested types are rewritten inside; child names of lists stay as declared.
 */
export function storageType (t: DataType): DataType {
  switch (t.typeId) {
    case Type.Date: return (t as Date_).unit === DateUnit.MILLISECOND ? new DateDay() : t
    case Type.Time: {
      const tt = t as Time
      return tt.unit === TimeUnit.SECOND ? new Time(TimeUnit.MILLISECOND, 32) : t
    }
    case Type.Decimal: {
      const { scale, precision, bitWidth } = t as Decimal
      return bitWidth !== 128 && precision <= 38 ? new Decimal(scale, precision, 128) : t
    }
    case Type.Utf8View: return new Utf8()
    case Type.BinaryView: return new Binary()
    case Type.Dictionary: return storageType((t as Dictionary).dictionary)
    case Type.List: return nested(t, (c) => new List(c))
    case Type.LargeList: return nested(t, (c) => new LargeList(c))
    case Type.FixedSizeList: return nested(t, (c) => new FixedSizeList((t as FixedSizeList).listSize, c))
    case Type.Map: return nested(t, (c) => new Map_(c as Field<Struct>, (t as Map_).keysSorted))
    case Type.Struct: {
      const kids = t.children as Field[]
      const mapped = kids.map(storageField)
      return mapped.every((f, i) => f === kids[i]) ? t : new Struct(mapped)
    }
    default: return t
  }
}

function storageField (f: Field): Field {
  const s = storageType(f.type)
  return s === f.type ? f : new Field(f.name, s, f.nullable, f.metadata)
}

function nested (t: DataType, make: (child: Field) => DataType): DataType {
  const child = t.children[0] as Field
  const s = storageField(child)
  return s === child ? t : make(s)
}

/** A topic's declared Arrow schema → the schema its batches are stored with (same object when nothing changes). */
export function storageSchema (declared: Schema): Schema {
  const fields = declared.fields.map(storageField)
  return fields.every((f, i) => f === declared.fields[i]) ? declared : new Schema(fields, declared.metadata)
}
