/** One figure of a benchmark: a value, its unit, and optionally the target it is judged against. */
export interface Figure {
  name: string
  value: number | string
  unit?: string
  /** Human-readable target, e.g. "≥ 1.5 × ceiling". */
  target?: string
  pass?: boolean
}

export interface BenchResult {
  bench: string
  figures: Figure[]
  notes: string[]
}

function fmt (v: number | string): string {
  if (typeof v === 'string') return v
  if (!Number.isFinite(v)) return String(v)
  const a = Math.abs(v)
  if (a >= 100_000) return Math.round(v).toLocaleString('en-US')
  if (a >= 100) return v.toFixed(0)
  if (a >= 10) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  return v.toPrecision(3)
}

/** Prints a benchmark's figures as an aligned table with PASS/FAIL per target. */
export function printResult (r: BenchResult): void {
  const rows = [['figure', 'value', 'unit', 'target', 'result']]
  for (const f of r.figures) {
    rows.push([f.name, fmt(f.value), f.unit ?? '', f.target ?? '', f.pass === undefined ? '' : f.pass ? 'PASS' : 'FAIL'])
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)))
  const line = (row: string[]) => '| ' + row.map((c, i) => i === 1 ? c.padStart(widths[i]) : c.padEnd(widths[i])).join(' | ') + ' |'
  const out = [`\n## ${r.bench}`, line(rows[0]), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.slice(1).map(line)]
  for (const n of r.notes) out.push(`- ${n}`)
  process.stdout.write(out.join('\n') + '\n')
}

export const MiB = 1024 * 1024

export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

export function median (xs: number[]): number {
  return percentile([...xs].sort((a, b) => a - b), 50)
}

export function log (msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
}
