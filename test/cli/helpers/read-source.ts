// Child process for the constant-memory test: reads a file with one CLI source and reports rows
// and peak RSS, so the measurement is not polluted by the test runner's own heap.
import { readFileSync } from 'node:fs'
import { READERS, type Format } from '../../../src/cli/sources/index.ts'

const [path, format, batchRows] = process.argv.slice(2)
let rows = 0
let batches = 0
for await (const batch of READERS[format as Format](path, { batchRows: Number(batchRows) })) {
  rows += batch.numRows
  batches++
}
const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024
process.stdout.write(JSON.stringify({ rows, batches, hwm }) + '\n')
