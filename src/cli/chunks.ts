import type { RecordBatch } from 'apache-arrow'

export interface Chunk {
  /** Position in the file's sequence of chunks: the unit of acknowledgement and of resume. */
  index: number
  batches: RecordBatch[]
  rows: number
}

/**
 * Groups consecutive batches until they hold at least `rows` rows. The grouping depends only on
 * the input, so every run over the same file numbers the same chunks the same way.
 */
export async function * chunked (batches: AsyncIterable<RecordBatch>, rows: number): AsyncGenerator<Chunk> {
  let index = 0
  let group: RecordBatch[] = []
  let count = 0
  for await (const batch of batches) {
    if (batch.numRows === 0) continue
    if (group.length && batch.schema !== group[0].schema && !sameSchema(batch, group[0])) {
      yield { index: index++, batches: group, rows: count }
      group = []
      count = 0
    }
    group.push(batch)
    count += batch.numRows
    if (count >= rows) {
      yield { index: index++, batches: group, rows: count }
      group = []
      count = 0
    }
  }
  if (group.length) yield { index: index++, batches: group, rows: count }
}

function sameSchema (a: RecordBatch, b: RecordBatch): boolean {
  return a.schema.fields.length === b.schema.fields.length &&
    a.schema.fields.every((f, i) => f.name === b.schema.fields[i].name && String(f.type) === String(b.schema.fields[i].type))
}
