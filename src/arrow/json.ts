import type { RecordBatch, Schema } from 'apache-arrow'
import { InvalidJsonError, JsonRowTooLargeError, PayloadTooLargeError } from '../errors.ts'
import type { ByteSource } from './ipc-framing.ts'
import { describe, jsonParserFor } from './json-values.ts'
import { rowsToBatches } from './json-columns.ts'
import { BATCH_BYTES, CHECK_EVERY, DEFAULT_MAX_ROW_BYTES, Slicer, rowsPerBatch } from './json-slices.ts'

export { rowsToBatches, type RowsOptions } from './json-columns.ts'

export interface JsonReadOptions {
  /** Most bytes the body may have → PayloadTooLargeError (413). */
  maxBytes: number
  /** The topic's Arrow schema (toArrowSchema); the batches get exactly this schema object. */
  schema: Schema
  /** Rows per RecordBatch (NDJSON); default 10,000. */
  batchRows?: number
  /** Bytes of one line or array element (MAX_JSON_ROW_BYTES) → JsonRowTooLargeError (413); default DEFAULT_MAX_ROW_BYTES. */
  maxRowBytes?: number
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

const LF = 0x0a
/** Bytes a blank line may hold besides its `\n` (`\r` of CRLF included). */
const isBlank = (c: number): boolean => c === 0x20 || c === 0x0d || c === 0x09
/** A line at least this long is a long synchronous step of its own (decoding, JSON.parse). */
const LONG_LINE = 64 * 1024
const EMPTY = new Uint8Array(0)

/**
 * Newline-delimited JSON, read line by line as it arrives (bytes counted here). Lines are numbered
 * from 1, blank lines skipped (and counted); a trailing line without `\n` is fine; no rows → no
 * batches. All-or-nothing: the first bad line rejects the whole body. The event loop gets a turn
 * every SLICE_MS (json-slices.ts); a line that spans chunks is decoded piece by piece as it
 * arrives, its bytes never gathered into one buffer; a line longer than `maxRowBytes` is refused.
 * @throws InvalidJsonError `line 3: not valid JSON`, `line 3: expected a JSON object, got array`,
 *   `line 3: field "price": expected double, got "abc"`, `line 3: not valid UTF-8`, …
 * @throws PayloadTooLargeError over maxBytes; JsonRowTooLargeError for a line over maxRowBytes
 */
export async function readNdjson (source: Source, opts: JsonReadOptions): Promise<JsonPayload> {
  const batchRows = rowsPerBatch(opts.schema, opts.batchRows ?? 10_000)
  const maxRowBytes = opts.maxRowBytes ?? DEFAULT_MAX_ROW_BYTES
  const parse = jsonParserFor(opts.schema)
  // Two decoders: one streaming call turns Node's UTF-8 fast path off for good on its decoder.
  const whole = new TextDecoder('utf-8', { fatal: true })
  const pieces = new TextDecoder('utf-8', { fatal: true })
  const slicer = new Slicer()
  const batches: RecordBatch[] = []
  let rows: unknown[] = []
  let lines: number[] = []
  let rowBytes = 0
  let line = 0
  let bytes = 0
  let total = 0
  let since = 0 // lines since the clock was last read
  // A line that spans chunks: its text decoded piece by piece, and its bytes.
  let pending: string[] | null = null
  let pendingBytes = 0

  const flush = async (): Promise<void> => {
    const at = lines
    batches.push(...rowsToBatches(rows, opts.schema, { label: i => `line ${at[i]}` }))
    total += rows.length
    rows = []
    lines = []
    rowBytes = 0
    if (opts.onBatch !== undefined) for (const b of batches.splice(0)) await opts.onBatch(b)
    await slicer.pause()
  }
  /** `raw` decoded: a whole line, or (`stream`) a piece of one, the rest to follow (then false for the last piece). */
  const decode = (raw: Uint8Array, stream?: boolean): string => {
    try {
      return stream === undefined ? whole.decode(raw) : pieces.decode(raw, { stream })
    } catch {
      throw new InvalidJsonError(`line ${line + 1}: not valid UTF-8`)
    }
  }
  /** Takes one whole line; true when the batch is full. */
  const accept = (text: string, size: number): boolean => {
    line++
    if (text.trim() === '') return false
    let value: unknown
    try {
      value = parse(text)
    } catch {
      throw new InvalidJsonError(`line ${line}: not valid JSON`)
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InvalidJsonError(`line ${line}: expected a JSON object, got ${describe(value)}`)
    }
    rows.push(value)
    lines.push(line)
    rowBytes += size
    return rows.length >= batchRows || rowBytes >= BATCH_BYTES
  }

  for await (const chunk of chunks(source)) {
    bytes += chunk.byteLength
    if (bytes > opts.maxBytes) throw new PayloadTooLargeError(opts.maxBytes)
    const n = chunk.byteLength
    let start = 0
    while (start < n) {
      if (pending === null) {
        // Blank lines are counted, not decoded: 200 MiB of them took 46 s one by one.
        let j = start
        while (j < n && isBlank(chunk[j])) j++
        if (j < n && chunk[j] === LF) {
          line++
          start = j + 1
          if (++since >= CHECK_EVERY) { since = 0; await slicer.pause() }
          continue
        }
      }
      const nl = chunk.indexOf(LF, start)
      const end = nl === -1 ? n : nl
      const size = pendingBytes + end - start
      if (size > maxRowBytes) throw new JsonRowTooLargeError(`line ${line + 1}`, maxRowBytes)
      if (nl === -1) {
        (pending ??= []).push(decode(chunk.subarray(start), true))
        pendingBytes = size
        break
      }
      const rest = decode(chunk.subarray(start, nl), pending === null ? undefined : false)
      start = nl + 1
      let text = rest
      if (pending !== null) {
        pending.push(rest)
        text = pending.join('')
        pending = null
        pendingBytes = 0
        if (size >= LONG_LINE) await slicer.pause() // joining it was one step, parsing it is the next
      }
      const full = accept(text, size)
      if (size >= LONG_LINE || ++since >= CHECK_EVERY) { since = 0; await slicer.pause() }
      if (full) await flush()
    }
    await slicer.pause()
  }
  if (pending !== null) {
    pending.push(decode(EMPTY, false))
    const text = pending.join('')
    pending = null
    await slicer.pause()
    accept(text, pendingBytes)
    await slicer.pause()
  }
  if (rows.length > 0) await flush()
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
    value = jsonParserFor(opts.schema, true)(new TextDecoder('utf-8', { fatal: true }).decode(concat(parts.length > 0 ? parts : [new Uint8Array(0)])))
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
