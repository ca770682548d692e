/**
 * Bounds on the size of a schema, shared by every place that reads one (the IPC header guard,
 * the Arrow schema check, the type parser, admin topic creation). Set once at start-up from
 * MAX_SCHEMA_FIELDS / MAX_TYPE_LENGTH; the CLI and tests keep the defaults.
 */
export interface SchemaLimits {
  /** Fields counted at every nesting level (a struct's children, a list's item, a map's entries…). */
  maxFields: number
  /** Characters of one type string (`struct<…>` as a topic stores it). */
  maxTypeLength: number
}

export const DEFAULT_SCHEMA_LIMITS: Readonly<SchemaLimits> = { maxFields: 10_000, maxTypeLength: 1024 * 1024 }

export const schemaLimits: SchemaLimits = { ...DEFAULT_SCHEMA_LIMITS }

export function setSchemaLimits (limits: Partial<SchemaLimits>): void {
  if (limits.maxFields !== undefined) schemaLimits.maxFields = limits.maxFields
  if (limits.maxTypeLength !== undefined) schemaLimits.maxTypeLength = limits.maxTypeLength
}

/** The message every schema with too many fields gets, wherever it is caught. */
export function tooManyFields (n: number, exact = true): string {
  return exact
    ? `the schema has ${n} fields; a topic holds at most ${schemaLimits.maxFields}`
    : `the schema has more than ${schemaLimits.maxFields} fields counted at every nesting level (MAX_SCHEMA_FIELDS)`
}
