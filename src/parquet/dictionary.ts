import { type Schema, Type } from 'apache-arrow'

const STRINGISH = new Set<Type>([Type.Utf8, Type.LargeUtf8, Type.Binary, Type.LargeBinary, Type.Dictionary])

/**
 * The columns worth a Parquet dictionary: top-level strings and binaries (event names, country
 * codes, user agents repeat a lot). Nested columns keep plain encoding: the writer names them by
 * their full path, which a flat name cannot address.
 */
export function dictionaryColumnsOf (schema: Schema): string[] {
  return schema.fields.filter((f) => STRINGISH.has(f.type.typeId)).map((f) => f.name)
}
