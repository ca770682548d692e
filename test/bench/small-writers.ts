import type { BenchResult } from './lib/table.ts'
import type { BenchOptions } from './throughput.ts'

export async function smallWriters (_opts: BenchOptions): Promise<BenchResult> {
  return { bench: 'small-writers', figures: [{ name: 'run', value: 'not built yet', pass: false }], notes: [] }
}
