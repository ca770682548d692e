import type { RecordBatch } from 'apache-arrow'
import { jsonValueOf } from './json-value.ts'

/**
 * One JSON object per row, each value as src/read/json-value.ts spells it (exact decimals and
 * int64, ISO timestamps and dates, `HH:MM:SS.ffffff` times, base64 binary, maps as objects).
 */
export function * ndjsonLines (batch: RecordBatch): Generator<string> {
  const fields = batch.schema.fields
  const cols = fields.map((f, k) => {
    const data = batch.getChildAt(k)!.data[0]
    const value = jsonValueOf(f.type)
    return (i: number) => value(data, i)
  })
  for (let i = 0; i < batch.numRows; i++) {
    const row: Record<string, unknown> = {}
    for (let k = 0; k < fields.length; k++) row[fields[k].name] = cols[k](i)
    yield JSON.stringify(row) + '\n'
  }
}

/**
 * The answer type for an Accept header among `offered` (first = default): the offered type with
 * the highest q that a range admits (the exact type, `application/` with a star, or the any-type range); null when none is acceptable.
 */
export function negotiateRowType (accept: string | undefined, offered: readonly string[]): string | null {
  if (accept === undefined || accept.trim() === '') return offered[0]
  let best: string | null = null
  let bestQ = 0
  for (const type of offered) {
    const [major] = type.split('/')
    let q = -1
    let specificity = -1
    for (const part of accept.split(',')) {
      const [range, ...params] = part.trim().toLowerCase().split(';').map((x) => x.trim())
      const s = range === type ? 2 : range === `${major}/*` ? 1 : range === '*/*' ? 0 : -1
      if (s <= specificity) continue
      const qp = params.find((p) => p.startsWith('q='))
      specificity = s
      q = qp === undefined ? 1 : Number(qp.slice(2)) || 0
    }
    if (q > bestQ) { best = type; bestQ = q }
  }
  return best
}
