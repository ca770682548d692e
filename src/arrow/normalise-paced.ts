import type { Data, RecordBatch, Schema } from 'apache-arrow'
import { batchOf } from './batch.ts'
import { type Alloc, convertSteps, nullData } from './convert.ts'
import { Slicer } from './json-slices.ts'
import type { Steps } from './steps.ts'

/**
 * Runs `steps`, letting the event loop turn (Slicer.pause) at the first slice boundary after each
 * SLICE_MS of work: a 500,000-row batch is converted in ~10 ms stretches instead of one that held
 * the loop for 0.1-2 s, with the same result as running it through at once.
 */
export async function pace<T> (steps: Steps<T>, slicer: Slicer = new Slicer()): Promise<T> {
  for (;;) {
    const r = steps.next()
    if (r.done === true) return r.value
    await slicer.pause()
  }
}

/**
 * normaliseBatch (src/arrow/compare.ts) as steps: the same batch, converted column by column,
 * slice by slice; converted columns' buffers from `alloc` when given.
 */
export function * normaliseSteps (batch: RecordBatch, topic: Schema, reorder: null | number[], alloc?: Alloc): Steps<RecordBatch> {
  const cols = batch.data.children
  const children: Data[] = []
  for (const [i, f] of topic.fields.entries()) {
    const j = reorder === null ? i : reorder[i]
    children.push(j === -1 ? nullData(f.type, batch.numRows) : yield * convertSteps(cols[j], f.type, f.name, alloc))
    yield // a wide batch of cheap columns is sliced too
  }
  return batchOf(topic, children, batch.numRows)
}

/** normaliseBatch paced (see `pace`): for the ingest path, where one batch may hold millions of rows. */
export async function normaliseBatchPaced (batch: RecordBatch, topic: Schema, reorder: null | number[], o: { slicer?: Slicer, alloc?: Alloc } = {}): Promise<RecordBatch> {
  return await pace(normaliseSteps(batch, topic, reorder, o.alloc), o.slicer)
}
