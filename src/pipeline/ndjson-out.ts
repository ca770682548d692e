import { Type, type RecordBatch, type Timestamp } from 'apache-arrow'

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** int64 values as JSON numbers while exact (|v| ≤ 2^53−1), as decimal strings beyond. */
function jsonSafe (_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v.toString()
  return v
}

const UNIT_TO_US: Array<[bigint, bigint]> = [[1_000_000n, 1n], [1000n, 1n], [1n, 1n], [1n, 1000n]]

/** Epoch microseconds → ISO 8601 UTC with 6 fractional digits. */
export function isoMicros (us: bigint): string {
  let ms = us / 1000n
  let rest = us % 1000n
  if (rest < 0n) { rest += 1000n; ms -= 1n }
  return new Date(Number(ms)).toISOString().replace('Z', `${String(rest).padStart(3, '0')}Z`)
}

/**
 * One JSON object per row. Top-level timestamps become ISO strings with microseconds; int64
 * numbers follow `jsonSafe`; nested values use Arrow's JSON form.
 */
export function * ndjsonLines (batch: RecordBatch): Generator<string> {
  const fields = batch.schema.fields
  const cols = fields.map((f, k) => {
    const v = batch.getChildAt(k)!
    if (f.type.typeId !== Type.Timestamp) return (i: number) => v.get(i)
    const [mul, div] = UNIT_TO_US[(f.type as Timestamp).unit]
    const values = v.data[0].values as BigInt64Array
    return (i: number) => v.isValid(i) ? isoMicros(values[i] * mul / div) : null
  })
  for (let i = 0; i < batch.numRows; i++) {
    const row: Record<string, unknown> = {}
    for (let k = 0; k < fields.length; k++) row[fields[k].name] = cols[k](i)
    yield JSON.stringify(row, jsonSafe) + '\n'
  }
}
