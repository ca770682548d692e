import type { BenchResult } from './lib/table.ts'
import type { BenchOptions } from './throughput.ts'

export async function memory (_opts: BenchOptions): Promise<BenchResult> {
  return { bench: 'memory', figures: [{ name: 'run', value: 'not built yet', pass: false }], notes: [] }
}
