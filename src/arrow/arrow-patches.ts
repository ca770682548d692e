import { type Field, Schema } from 'apache-arrow'

/*
 * apache-arrow 21's `Schema.prototype.assign` looks every field up with `findIndex`: O(fields²).
 * Every `new RecordBatch(schema, data)` calls it (apache-arrow's IPC reader too, once per batch),
 * so a 10,000-column batch cost ~2 s of event loop. This replaces the common case (assigning a
 * list of fields that all exist already) with a Map lookup and the same result; anything else
 * goes to the original. Imported for its side effect by the modules that build or read batches.
 */
const kPatched = Symbol.for('quiver.arrow.assignPatched')
type Assign = (this: Schema, ...args: unknown[]) => Schema
const proto = Schema.prototype as unknown as Record<PropertyKey, unknown> & { assign: Assign }

if (proto[kPatched] !== true) {
  const original = proto.assign
  proto.assign = function assign (this: Schema, ...args: unknown[]): Schema {
    const fields = args[0]
    if (args.length !== 1 || !Array.isArray(fields)) return original.apply(this, args)
    const index = new Map<string, number>()
    this.fields.forEach((f, i) => { if (!index.has(f.name)) index.set(f.name, i) })
    if (!(fields as Field[]).every(f => index.has(f.name))) return original.apply(this, args)
    const cur = [...this.fields]
    for (const f2 of fields as Field[]) {
      const i = index.get(f2.name) as number
      cur[i] = f2.clone({ metadata: new Map([...(cur[i].metadata ?? []), ...(f2.metadata ?? [])]) })
    }
    return new Schema(cur, new Map(this.metadata ?? []), new Map(this.dictionaries))
  }
  proto[kPatched] = true
}
