import type { RecordBatch } from 'apache-arrow'
import { Slicer } from '../arrow/json-slices.ts'
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

/** Rows per NDJSON chunk written, and the characters after which a chunk ends earlier (long rows). */
const CHUNK_ROWS = 1000
const CHUNK_CHARS = 256 * 1024

/**
 * NDJSON lines in chunks of up to CHUNK_ROWS rows or about CHUNK_CHARS: few writes, and never a
 * whole batch as one string. Serialising is the main thread's work, ~1-4 µs a row: between two
 * chunks the event loop gets a turn once a stretch took SLICE_MS (`slicer` is the request's).
 * A response stream pulls chunks in microtasks for as long as the socket takes writes, so without
 * the turn a whole decoded row group was serialised in one go (1 s for 500,000 rows).
 */
export async function * ndjsonChunks (batches: AsyncIterable<RecordBatch>, slicer = new Slicer()): AsyncGenerator<string> {
  for await (const b of batches) {
    let chunk = ''
    let n = 0
    for (const line of ndjsonLines(b)) {
      chunk += line
      if (++n === CHUNK_ROWS || chunk.length >= CHUNK_CHARS) {
        yield chunk
        chunk = ''
        n = 0
        await slicer.pause()
      }
    }
    if (chunk) {
      yield chunk
      await slicer.pause()
    }
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
