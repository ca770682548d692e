import { ConvertError } from './columns.js'

/**
 * RFC 4180 CSV (comma, double quotes, CRLF or LF) → header and records, each with the line it
 * starts on. An empty unquoted cell is null; a quoted "" is the empty string (DuckDB's reading).
 */
export function parseCsv (text, name) {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  const records = []
  let row = []
  let field = ''
  let quoted = false
  let wasQuoted = false
  let line = 1
  let rowLine = 1
  const endField = () => {
    row.push(field === '' && !wasQuoted ? null : field)
    field = ''
    wasQuoted = false
  }
  const endRow = () => {
    if (row.length > 1 || row[0] !== null) records.push({ line: rowLine, values: row })
    row = []
  }
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c !== '"') {
        if (c === '\n') line++
        field += c
      } else if (text[i + 1] === '"') {
        field += '"'
        i++
      } else quoted = false
    } else if (c === '"') {
      quoted = true
      wasQuoted = true
    } else if (c === ',') endField()
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++
      endField()
      endRow()
      rowLine = ++line
    } else field += c
  }
  if (quoted) throw new ConvertError(`${name} line ${rowLine}: a quoted field is never closed`)
  if (field !== '' || wasQuoted || row.length) {
    endField()
    endRow()
  }
  const head = records.shift()
  if (!head) throw new ConvertError(`${name}: the file is empty`)
  const header = head.values.map((h, i) => {
    const n = (h ?? '').trim()
    if (n === '') throw new ConvertError(`${name} line ${head.line}: column ${i + 1} of the header has no name`)
    return n
  })
  const dup = header.find((h, i) => header.indexOf(h) !== i)
  if (dup !== undefined) throw new ConvertError(`${name} line ${head.line}: column "${dup}" appears twice in the header`)
  for (const r of records) {
    if (r.values.length !== header.length) throw new ConvertError(`${name} line ${r.line}: ${r.values.length} field${r.values.length === 1 ? '' : 's'}, but the header has ${header.length}`)
  }
  return { header, records }
}
