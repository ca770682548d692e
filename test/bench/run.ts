import { cpus, loadavg, totalmem } from 'node:os'
import { coldStart } from './cold-start.ts'
import { throughput, type BenchOptions } from './throughput.ts'
import { smallWriters } from './small-writers.ts'
import { connections } from './connections.ts'
import { memory } from './memory.ts'
import { authOverhead } from './auth-overhead.ts'
import { matrix } from './matrix.ts'
import { raiseNofile } from './lib/proc.ts'
import { log, printResult, type BenchResult } from './lib/table.ts'

/**
 * `npm run bench [-- --only a,b] [--quick] [--profile] [--cell '8 × 40 MiB accepted']`: runs the benchmarks one after another
 * (each starts and stops its own gateway), prints a table per benchmark and a summary of every
 * target. Exit code 0 even when targets fail: the figures are the output, not a gate.
 */
const BENCHES: Record<string, (o: BenchOptions) => Promise<BenchResult>> = {
  matrix,
  throughput,
  'small-writers': smallWriters,
  connections,
  memory,
  'auth-overhead': authOverhead,
  'cold-start': coldStart
}

function parseArgs (argv: string[]): { only: string[], opts: BenchOptions } {
  const only: string[] = []
  const opts: BenchOptions = { quick: false, profile: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--quick') opts.quick = true
    else if (a === '--profile') opts.profile = true
    else if (a === '--only') only.push(...(argv[++i] ?? '').split(','))
    else if (a.startsWith('--only=')) only.push(...a.slice(7).split(','))
    else if (a === '--cell') (opts.cells ??= []).push(argv[++i] ?? '')
    else throw new Error(`unknown argument ${a} (use --only name,name --quick --profile --cell 'P × SIZE ACK')`)
  }
  for (const name of only) if (!(name in BENCHES)) throw new Error(`unknown benchmark ${name}; known: ${Object.keys(BENCHES).join(', ')}`)
  return { only: only.filter(Boolean), opts }
}

async function main (): Promise<void> {
  const { only, opts } = parseArgs(process.argv.slice(2))
  const nofile = raiseNofile(200_000)
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  process.stdout.write(`# Quiver benchmarks ${new Date().toISOString()}\n` +
    `machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${process.platform}; ` +
    `open files ${nofile.before} → ${nofile.after}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}` +
    `${opts.quick ? '; --quick (shorter runs, smaller counts)' : ''}\n`)
  const t0 = performance.now()
  const results: BenchResult[] = []
  for (const [name, fn] of Object.entries(BENCHES)) {
    if (only.length > 0 && !only.includes(name)) continue
    log(`${name}: start`)
    const t = performance.now()
    let r: BenchResult
    try {
      r = await fn(opts)
    } catch (err) {
      r = { bench: name, figures: [{ name: 'run', value: 'crashed', pass: false }], notes: [(err as Error).stack ?? String(err)] }
    }
    r.notes.push(`took ${((performance.now() - t) / 1000).toFixed(0)} s`)
    printResult(r)
    results.push(r)
  }
  const judged = results.flatMap((r) => r.figures.filter((f) => f.pass !== undefined).map((f) => ({ bench: r.bench, ...f })))
  process.stdout.write(`\n## summary (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`)
  for (const f of judged) process.stdout.write(`${f.pass ? 'PASS' : 'FAIL'}  ${f.bench}: ${f.name} = ${typeof f.value === 'number' ? f.value.toPrecision(4) : f.value}${f.unit ? ' ' + f.unit : ''} (target ${f.target})\n`)
  process.stdout.write(`${judged.filter((f) => f.pass).length}/${judged.length} targets met\n`)
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`)
  process.exit(1)
})
