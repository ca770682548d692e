import type { BenchResult } from './lib/table.ts'
import type { BenchOptions } from './throughput.ts'

export async function connections (_opts: BenchOptions): Promise<BenchResult> {
  return { bench: 'connections', figures: [{ name: 'run', value: 'not built yet', pass: false }], notes: [] }
}
