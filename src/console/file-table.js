import { arrowToTable } from './arrow-file.js'
import { ConvertError, convertColumn, tableOf } from './columns.js'
import { parseCsv } from './csv.js'
import { inferColumn } from './infer.js'
import { parseType } from './types.js'
import { describe } from './value-converters.js'

const A = globalThis.Arrow

function isArrow (name, head) {
  if (/\.(arrow|arrows|feather|ipc)$/i.test(name)) return true
  const magic = String.fromCharCode(...head.subarray(0, 6))
  return magic === 'ARROW1' || (head[0] === 0xff && head[1] === 0xff && head[2] === 0xff && head[3] === 0xff)
}

/** Rows of NDJSON (one object a line) or of a JSON array, column by column. */
function jsonColumns (text, name) {
  const objs = []
  const where = []
  const asArray = /^\s*\[/.test(text)
  const lines = asArray ? [text] : text.split('\n')
  lines.forEach((line, i) => {
    if (line.trim() === '') return
    let v
    try {
      v = JSON.parse(line)
    } catch (err) {
      throw new ConvertError(`${name}${asArray ? '' : ` line ${i + 1}`}: not valid JSON (${err.message})`)
    }
    for (const o of asArray ? v : [v]) {
      const at = asArray ? `${name} row ${objs.length + 1}` : `${name} line ${i + 1}`
      if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ConvertError(`${at}: expected a JSON object, got ${describe(o)}`)
      objs.push(o)
      where.push(at)
    }
  })
  const names = [...new Set(objs.flatMap((o) => Object.keys(o)))]
  return { names, n: objs.length, raw: (c) => objs.map((o) => o[c]), at: (i) => where[i], text: false }
}

function csvColumns (text, name) {
  const { header, records } = parseCsv(text, name)
  return { names: header, n: records.length, raw: (c) => { const j = header.indexOf(c); return records.map((r) => r.values[j]) }, at: (i) => `${name} line ${records[i].line}`, text: true, csv: true }
}

/** Columns (CSV or JSON) → a table with exactly the topic's fields, or with inferred types. */
function columnsToTable (src, fields, name) {
  if (src.n === 0) throw new ConvertError(`${name}: the file holds no rows`)
  if (fields === null) {
    const inferred = src.names.map((c) => ({ c, ...inferColumn(src.raw(c), src.text) }))
    const out = inferred.map(({ c, type }) => new A.Field(c, type, true))
    return tableOf(out, inferred.map(({ raw }, k) => convertColumn(out[k], raw, src)), src.n)
  }
  const wanted = new Set(fields.map((f) => f.name))
  const extra = src.names.filter((c) => !wanted.has(c))
  if (extra.length) throw new ConvertError(`${name}: ${src.csv ? 'column' : 'field'}${extra.length > 1 ? 's' : ''} ${extra.join(', ')} not in the topic (it has ${[...wanted].join(', ')})`)
  const missing = fields.find((f) => !f.nullable && src.csv && !src.names.includes(f.name))
  if (missing) throw new ConvertError(`${name}: no column "${missing.name}", which the topic says is not null`)
  const present = new Set(src.names)
  return tableOf(fields, fields.map((f) => convertColumn(f, present.has(f.name) ? src.raw(f.name) : new Array(src.n).fill(src.csv ? null : undefined), src)), src.n)
}

/** Topic fields as Arrow fields, or null when one is nested (the console only fills flat columns). */
function arrowFields (topicFields) {
  const out = topicFields.map((f) => {
    const type = parseType(f.type)
    return type && new A.Field(f.name, type, f.nullable ?? true)
  })
  return out.every(Boolean) ? out : null
}

/**
 * Reads a CSV, NDJSON, JSON array or Arrow (IPC stream or file) file into one Arrow table.
 * `topicFields` (the existing topic's schema) makes the table match it exactly, so the gateway
 * accepts it; null (a new topic, auto-created from the stream) infers column types.
 * Throws ConvertError naming the file, the line or row and the field.
 * @returns {Promise<{ table: object, format: string, inferred: boolean }>}
 */
export async function fileToTable (file, topicFields) {
  const name = file.name
  const fields = topicFields && arrowFields(topicFields)
  const head = new Uint8Array(await file.slice(0, 8).arrayBuffer())
  if (isArrow(name, head)) {
    return { table: arrowToTable(new Uint8Array(await file.arrayBuffer()), fields, name), format: 'Arrow', inferred: false }
  }
  if (topicFields && !fields) throw new ConvertError(`${name}: the topic has nested columns; the console only converts flat CSV/JSON columns (send an Arrow file, or use the quiver CLI)`)
  const text = await file.text()
  const csv = /\.(csv|txt)$/i.test(name)
  const src = csv ? csvColumns(text, name) : jsonColumns(text, name)
  return { table: columnsToTable(src, fields, name), format: csv ? 'CSV' : /^\s*\[/.test(text) ? 'JSON' : 'NDJSON', inferred: fields === null }
}
