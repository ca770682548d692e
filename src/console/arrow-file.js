import { ConvertError, convertColumn, dataOf } from './columns.js'
import { formatType, sameType } from './types.js'

const A = globalThis.Arrow

const NUMERIC = new Set([A.Type.Int, A.Type.Float])

/**
 * Columns read value by value and converted: dictionaries, and other integer/float widths.
 * Not timestamps: apache-arrow hands their values out as float milliseconds.
 */
function convertible (topic, file) {
  return file.typeId === A.Type.Dictionary || (NUMERIC.has(file.typeId) && NUMERIC.has(topic.typeId))
}

function readIpc (bytes, name) {
  try {
    return A.tableFromIPC(bytes)
  } catch (err) {
    throw new ConvertError(`${name}: not a readable Arrow IPC stream or file (${err.message})`)
  }
}

function firstNull (vector) {
  for (let i = 0; i < vector.length; i++) if (!vector.isValid(i)) return i
  return -1
}

/**
 * An Arrow IPC stream or file → a table with exactly the topic's `fields` (null: as it is, for a
 * new topic or a nested topic schema the gateway checks itself). Columns of the same type keep
 * their buffers; dictionaries and other integer/float widths are converted value by value;
 * a nullable topic column the file lacks is sent as nulls.
 */
export function arrowToTable (bytes, fields, name) {
  const table = readIpc(bytes, name)
  if (table.numRows === 0) throw new ConvertError(`${name}: the file holds no rows`)
  if (fields === null) return table
  const fileFields = table.schema.fields
  const wanted = new Set(fields.map((f) => f.name))
  const extra = fileFields.filter((f) => !wanted.has(f.name)).map((f) => f.name)
  if (extra.length) throw new ConvertError(`${name}: column${extra.length > 1 ? 's' : ''} ${extra.join(', ')} not in the topic (it has ${[...wanted].join(', ')})`)
  const index = new Map(fileFields.map((f, j) => [f.name, j]))
  for (const f of fields) {
    const j = index.get(f.name)
    if (j === undefined && !f.nullable) throw new ConvertError(`${name}: no column "${f.name}", which the topic says is not null`)
    if (j === undefined) continue
    const ft = fileFields[j].type
    if (!sameType(f.type, ft) && !convertible(f.type, ft)) {
      throw new ConvertError(`${name}: column "${f.name}" is ${formatType(ft)}, the topic wants ${formatType(f.type)}`)
    }
  }
  const schema = new A.Schema(fields)
  let first = 0
  const batches = table.batches.map((batch) => {
    const at = (i) => `${name} row ${first + i + 1}`
    const children = fields.map((f) => {
      const j = index.get(f.name)
      if (j === undefined) return dataOf(f.type, new Array(batch.numRows).fill(null))
      const col = batch.getChildAt(j)
      if (!sameType(f.type, col.type)) return convertColumn(f, Array.from({ length: col.length }, (_, i) => col.get(i)), { text: false, at })
      const i = f.nullable ? -1 : firstNull(col)
      if (i !== -1) throw new ConvertError(`${at(i)}: field "${f.name}": null, but the topic says not null`)
      return col.data[0]
    })
    first += batch.numRows
    return new A.RecordBatch(schema, A.makeData({ type: new A.Struct(fields), length: batch.numRows, nullCount: 0, children }))
  })
  return new A.Table(batches)
}
