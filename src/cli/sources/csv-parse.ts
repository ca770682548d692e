/**
 * RFC 4180 record parsing for one record's text: quoted fields may hold the delimiter, doubled
 * quotes and newlines. Returns null when a quote is still open (the record continues on the next line).
 */
export function parseCsvRecord (text: string, delimiter = ','): string[] | null {
  if (!text.includes('"')) return text.split(delimiter)
  const out: string[] = []
  let field = ''
  let i = 0
  const n = text.length
  while (true) {
    if (text[i] === '"') {
      i++
      while (true) {
        const q = text.indexOf('"', i)
        if (q < 0) return null
        field += text.slice(i, q)
        if (text[q + 1] === '"') { field += '"'; i = q + 2; continue }
        i = q + 1
        break
      }
      // Text after a closing quote up to the delimiter is kept, as most readers do.
      const d = text.indexOf(delimiter, i)
      field += text.slice(i, d < 0 ? n : d)
      i = d < 0 ? n : d
    } else {
      const d = text.indexOf(delimiter, i)
      field = text.slice(i, d < 0 ? n : d)
      i = d < 0 ? n : d
    }
    out.push(field)
    field = ''
    if (i >= n) return out
    i += delimiter.length
    if (i >= n) { out.push(''); return out }
  }
}
