import { type DataType, type Dictionary, type Field, type Timestamp, Type } from 'apache-arrow'
import { InvalidSchemaError } from '../errors.ts'
import { timeZoneProblem } from './time-zone.ts'

/*
 * What a field must have to enter a topic's schema (POST /v1/topics, a PATCH, a stream that
 * creates or evolves a topic), beyond what the type parser checks: a time zone readers know
 * (src/schema/time-zone.ts), which Arrow itself does not require.
 * Topics already stored are not judged again: their schemas keep parsing as they did.
 */

function walk (t: DataType, path: string): void {
  switch (t.typeId) {
    case Type.Timestamp: {
      const tz = (t as Timestamp).timezone
      const problem = tz === null || tz === undefined ? null : timeZoneProblem(tz)
      if (problem !== null) throw new InvalidSchemaError(`field "${path}": ${problem}`)
      return
    }
    case Type.Struct:
      (t.children as Field[]).forEach((c) => {
        walk(c.type, `${path}.${c.name}`)
      })
      return
    case Type.List: case Type.LargeList: case Type.FixedSizeList:
      walk((t.children[0] as Field).type, `${path}.item`)
      return
    case Type.Map: {
      const [key, value] = (t.children[0] as Field).type.children as Field[]
      walk(key.type, `${path}.key`)
      walk(value.type, `${path}.value`)
      return
    }
    case Type.Dictionary:
      walk((t as Dictionary).dictionary, path)
  }
}

/**
 * Checks fields about to enter a topic's schema: time zones readable (IANA names, whole-hour offsets).
 * @throws InvalidSchemaError naming the field's path, e.g. `field "at": time zone "Mars/Olympus" is not an IANA time zone …`
 */
export function checkNewFields (fields: readonly Field[]): void {
  fields.forEach((f) => {
    walk(f.type, f.name)
  })
}
