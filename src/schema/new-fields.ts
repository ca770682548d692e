import { type DataType, type Dictionary, type Field, type Timestamp, Type } from 'apache-arrow'
import { InvalidSchemaError } from '../errors.ts'
import { timeZoneProblem } from './time-zone.ts'

/*
 * What a field must have to enter a topic's schema (POST /v1/topics, a PATCH, a stream that
 * creates or evolves a topic), beyond what the type parser checks. Arrow itself allows both:
 * - a name: apache-arrow JS writes a field or struct child named "" (and reads it back as null);
 *   a topic spells its types as text (`struct<a: int32>`), where an unnamed struct child cannot
 *   be written. List items and map entries stay free (flechette leaves its list item unnamed);
 * - a time zone readers know (src/schema/time-zone.ts).
 * Topics already stored are not judged again: their schemas keep parsing as they did.
 */

const unnamed = (f: Field): boolean => typeof f.name !== 'string' || f.name.trim() === ''

function walk (t: DataType, path: string): void {
  switch (t.typeId) {
    case Type.Timestamp: {
      const tz = (t as Timestamp).timezone
      const problem = tz === null || tz === undefined ? null : timeZoneProblem(tz)
      if (problem !== null) throw new InvalidSchemaError(`field "${path}": ${problem}`)
      return
    }
    case Type.Struct:
      (t.children as Field[]).forEach((c, i) => {
        if (unnamed(c)) throw new InvalidSchemaError(`field "${path}": struct field ${i} has an empty name (struct fields need names; list items may be unnamed)`)
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
 * Checks fields about to enter a topic's schema: top-level fields and struct children named,
 * time zones readable (IANA names, whole-hour offsets).
 * @throws InvalidSchemaError naming the field's position or path, e.g. `field 1 has an empty name`,
 * `field "s": struct field 0 has an empty name …`, `field "at": time zone "Mars/Olympus" is not an IANA time zone …`
 */
export function checkNewFields (fields: readonly Field[]): void {
  fields.forEach((f, i) => {
    if (unnamed(f)) throw new InvalidSchemaError(`field ${i} has an empty name`)
    walk(f.type, f.name)
  })
}
