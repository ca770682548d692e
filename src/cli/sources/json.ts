import { createReadStream } from 'node:fs'
import type { RecordBatch } from 'apache-arrow'
import { RowBatcher } from './rows.ts'
import type { SourceOptions } from './types.ts'

/**
 * A JSON array of objects → Arrow batches, without reading the whole file: a small scanner finds
 * where each top-level element ends (tracking nesting and strings) and parses elements one by one.
 * Errors name the line an element starts on and its number: `a.json: line 120346, element 120345: …`.
 */
export async function * readJson (path: string, opts: SourceOptions): AsyncGenerator<RecordBatch> {
  const at = (line: number, row: number) => `${path}: line ${line}, element ${row + 1}`
  const batcher = new RowBatcher(opts.schema ?? null, opts.batchRows, at)
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })
  let buf = ''
  let depth = 0
  let inStr = false
  let esc = false
  let start = -1
  let done = false
  let count = 0
  let line = 1
  let startLine = 1
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      if (opts.position) opts.position.bytes = stream.bytesRead
      // Only the unfinished element is carried over to the next chunk.
      let i = 0
      if (start >= 0) {
        i = buf.length - start
        buf = buf.slice(start) + chunk
        start = 0
      } else {
        buf = chunk
      }
      const out: Array<[Record<string, unknown>, number]> = []
      for (; i < buf.length; i++) {
        const c = buf.charCodeAt(i)
        if (c === 10) line++
        if (inStr) {
          if (esc) esc = false
          else if (c === 92) esc = true
          else if (c === 34) inStr = false
          continue
        }
        if (c === 32 || c === 10 || c === 13 || c === 9) continue
        if (done) throw new Error(`${path}: line ${line}: unexpected data after the closing "]"`)
        if (depth === 0) {
          if (c !== 91) throw new Error(`${path}: line ${line}: expected a JSON array of objects`)
          depth = 1
          continue
        }
        if (depth === 1 && (c === 44 || c === 93)) {
          if (start >= 0) {
            out.push([parseRow(buf.slice(start, i), startLine, count++, at), startLine])
            start = -1
          } else if (c === 44) throw new Error(`${path}: line ${line}: unexpected "," in the array`)
          if (c === 93) { depth = 0; done = true }
          continue
        }
        if (start < 0) {
          start = i
          startLine = line
        }
        if (c === 34) inStr = true
        else if (c === 123 || c === 91) depth++
        else if (c === 125 || c === 93) depth--
      }
      for (const [row, rowLine] of out) {
        const batch = batcher.push(row, rowLine)
        if (batch) yield batch
      }
    }
  } finally {
    stream.destroy()
  }
  if (!done) throw new Error(`${path}: truncated JSON array`)
  const last = batcher.finish()
  if (last) yield last
}

/** `at(line, index)` names the element in errors; built only on failure (this runs per row). */
function parseRow (text: string, line: number, index: number, at: (line: number, row: number) => string): Record<string, unknown> {
  let row: unknown
  try {
    row = JSON.parse(text)
  } catch (err) {
    throw new Error(`${at(line, index)}: invalid JSON: ${(err as Error).message}`)
  }
  if (row === null || typeof row !== 'object' || Array.isArray(row)) throw new Error(`${at(line, index)}: expected a JSON object`)
  return row as Record<string, unknown>
}
