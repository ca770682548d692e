import type { RecordBatch, Schema } from 'apache-arrow'
import { InvalidJsonError, PayloadTooLargeError } from '../errors.ts'
import type { ByteSource } from './ipc-framing.ts'
import { describe } from './json-values.ts'
import { rowsToBatches } from './json-columns.ts'

export { rowsToBatches, type RowsOptions } from './json-columns.ts'

export interface JsonReadOptions {
  /** Most bytes the body may have → PayloadTooLargeError (413). */
  maxBytes: number
  /** The topic's Arrow schema (toArrowSchema); the batches get exactly this schema object. */
  schema: Schema
  /** Rows per RecordBatch (NDJSON); default 10,000. */
  batchRows?: number
  /**
   * Takes each batch as soon as it is converted (awaited before more of the body is read), so
   * the caller can stage a large body instead of holding all of it (src/ingest/json-batches.ts);
   * the result then lists no batches.
   */
  onBatch?: (batch: RecordBatch) => Promise<void>
}

export interface JsonPayload {
  batches: RecordBatch[]
  rows: number
  bytes: number
}

type Source = ByteSource | NodeJS.ReadableStream | Uint8Array

async function * chunks (source: Source): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) { yield source; return }
  for await (const c of source as AsyncIterable<Uint8Array | string>) yield typeof c === 'string' ? Buffer.from(c) : c
}

function concat (parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}

/**
 * Newline-delimited JSON, read line by line as it arrives (bytes counted here). Lines are numbered
 * from 1, blank lines skipped (and counted); a trailing line without `\n` is fine; no rows → no
 * batches. All-or-nothing: the first bad line rejects the whole body.
 * @throws InvalidJsonError `line 3: not valid JSON`, `line 3: expected a JSON object, got array`,
 *   `line 3: field "price": expected double, got "abc"`, `line 3: not valid UTF-8`, …
 * @throws PayloadTooLargeError over maxBytes
 */
export async function readNdjson (source: Source, opts: JsonReadOptions): Promise<JsonPayload> {
  const batchRows = opts.batchRows ?? 10_000
  const decoder = new TextDecoder('utf-8', { fatal: true })
  const batches: RecordBatch[] = []
  let rows: unknown[] = []
  let lines: number[] = []
  let line = 0
  let bytes = 0
  let total = 0
  let pending: Uint8Array[] = []

  const flush = () => {
    const at = lines
    batches.push(...rowsToBatches(rows, opts.schema, { label: i => `line ${at[i]}` }))
    total += rows.length
    rows = []
    lines = []
  }
  const handle = (raw: Uint8Array) => {
    line++
    let text: string
    try {
      text = decoder.decode(raw)
    } catch {
      throw new InvalidJsonError(`line ${line}: not valid UTF-8`)
    }
    if (text.trim() === '') return
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw new InvalidJsonError(`line ${line}: not valid JSON`)
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InvalidJsonError(`line ${line}: expected a JSON object, got ${describe(value)}`)
    }
    rows.push(value)
    lines.push(line)
    if (rows.length >= batchRows) flush()
  }

  for await (const chunk of chunks(source)) {
    bytes += chunk.byteLength
    if (bytes > opts.maxBytes) throw new PayloadTooLargeError(opts.maxBytes)
    let start = 0
    while (start < chunk.byteLength) {
      const nl = chunk.indexOf(10, start)
      if (nl === -1) { pending.push(chunk.subarray(start)); break }
      pending.push(chunk.subarray(start, nl))
      handle(concat(pending))
      pending = []
      start = nl + 1
    }
    if (opts.onBatch !== undefined) for (const b of batches.splice(0)) await opts.onBatch(b)
  }
  if (pending.length > 0) handle(concat(pending))
  if (rows.length > 0) flush()
  if (opts.onBatch !== undefined) for (const b of batches.splice(0)) await opts.onBatch(b)
  return { batches, rows: total, bytes }
}

/**
 * A JSON array of objects (`application/json`), read whole (bounded by maxBytes) and converted
 * with the topic schema; rows are named by array index in messages (`row 0: …`).
 * @throws InvalidJsonError `body is not valid JSON`, `expected a JSON array of objects, got object`,
 *   `row 2: expected a JSON object, got 5`, `row 0: field "price": expected double, got "abc"`
 * @throws PayloadTooLargeError over maxBytes
 */
export async function readJsonArray (source: Source, opts: JsonReadOptions): Promise<JsonPayload> {
  const parts: Uint8Array[] = []
  let bytes = 0
  for await (const chunk of chunks(source)) {
    bytes += chunk.byteLength
    if (bytes > opts.maxBytes) throw new PayloadTooLargeError(opts.maxBytes)
    parts.push(chunk)
  }
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(concat(parts.length > 0 ? parts : [new Uint8Array(0)])))
  } catch {
    throw new InvalidJsonError('body is not valid JSON')
  }
  if (!Array.isArray(value)) throw new InvalidJsonError(`expected a JSON array of objects, got ${describe(value)}`)
  const batchRows = opts.batchRows ?? 10_000
  const batches: RecordBatch[] = []
  for (let i = 0; i < value.length; i += batchRows) {
    const first = i
    batches.push(...rowsToBatches(value.slice(i, i + batchRows), opts.schema, { label: k => `row ${first + k}` }))
  }
  return { batches, rows: value.length, bytes }
}
