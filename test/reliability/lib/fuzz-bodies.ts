import { Dictionary, Field, Int32, Schema, Utf8, makeData, RecordBatch, Struct, vectorFromArray, tableFromIPC } from 'apache-arrow'
import { makeIpcFile, makeIpcStream, makeNdjson, makeRows, TEST_ARROW_SCHEMA, TEST_FIELDS } from '../../helpers/arrow.ts'
import { toIpcStream } from '../../../src/arrow/encode.ts'
import type { Rng } from './prng.ts'
import { mixedDeepStream, structsStream } from './wide-schemas.ts'

export const ARROW_STREAM = 'application/vnd.apache.arrow.stream'
export const ARROW_FILE = 'application/vnd.apache.arrow.file'
export const NDJSON = 'application/x-ndjson'
export const JSON_TYPE = 'application/json'

export interface BodyCase {
  kind: string
  contentType: string | undefined
  body: Uint8Array | string
}

/**
 * A few valid bodies built once, mutated many times. Besides the topic's own shape: wide structs
 * (2 × 400 booleans) and deep schemas (alternating struct/list, 12 and 40 levels, the second past
 * MAX_SCHEMA_DEPTH), so that damaged field counts, child vectors and nesting reach the schema
 * checks (schema work must stay linear whatever the bytes say).
 */
export function seedCorpus (): Record<string, Uint8Array> {
  return {
    stream1: makeIpcStream(1),
    stream20: makeIpcStream(20, { batchRows: 7 }),
    streamDict: dictionaryStream(12),
    file10: makeIpcFile(10),
    wideStructs: structsStream(2, 400),
    deep12: mixedDeepStream(12),
    deep40: mixedDeepStream(40, false)
  }
}

/** TEST schema but `name` dictionary-encoded (dictionary<utf8, int32>). */
export function dictionaryStream (n: number, start = 0): Uint8Array {
  const words = ['alpha', 'beta', 'gamma', 'delta']
  const dictType = new Dictionary(new Utf8(), new Int32(), 0)
  const fields = TEST_ARROW_SCHEMA.fields.map((f) => f.name === 'name' ? new Field('name', dictType, true) : f)
  const schema = new Schema(fields)
  const plain = makeIpcStream(n, { start })
  const dictVec = vectorFromArray(words, new Utf8())
  const indices = new Int32Array(n)
  for (let i = 0; i < n; i++) indices[i] = (start + i) % words.length
  const nameData = makeData({ type: dictType, length: n, nullCount: 0, data: indices, dictionary: dictVec })
  const table = tableFromIPC(plain)
  const batch = table.batches[0]
  const children = batch.data.children.map((c, i) => TEST_ARROW_SCHEMA.fields[i].name === 'name' ? nameData : c)
  const data = makeData({ type: new Struct(fields), length: n, nullCount: 0, children })
  return toIpcStream([new RecordBatch(schema, data)], schema)
}

/** Random damage to a valid body: flips, overwrites, truncation, insertion, deletion, splices, lying lengths. */
export function mutate (rng: Rng, src: Uint8Array, other: Uint8Array): { how: string, bytes: Uint8Array } {
  const b = new Uint8Array(src)
  switch (rng.int(0, 8)) {
    case 0: {
      const n = rng.int(1, 8)
      for (let i = 0; i < n; i++) b[rng.int(0, b.length - 1)] ^= 1 << rng.int(0, 7)
      return { how: 'bitflip', bytes: b }
    }
    case 1: {
      const n = rng.int(1, 16)
      for (let i = 0; i < n; i++) b[rng.int(0, b.length - 1)] = rng.pick([0, 0xff, 0x7f, 0x80, rng.int(0, 255)])
      return { how: 'overwrite', bytes: b }
    }
    case 2:
      return { how: 'truncate', bytes: b.subarray(0, rng.int(0, b.length - 1)) }
    case 3: {
      const at = rng.int(0, b.length)
      const ins = rng.bytes(rng.int(1, 64))
      return { how: 'insert', bytes: concat(b.subarray(0, at), ins, b.subarray(at)) }
    }
    case 4: {
      const at = rng.int(0, b.length - 1)
      return { how: 'delete', bytes: concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 64)))) }
    }
    case 5:
      return { how: 'splice', bytes: concat(b.subarray(0, rng.int(0, b.length)), other.subarray(rng.int(0, other.length))) }
    case 6: {
      // Continuation marker followed by a lying length, at a random 8-byte-aligned spot.
      const at = Math.min(b.length - 8, rng.int(0, b.length >> 3) << 3)
      if (at >= 0) {
        const dv = new DataView(b.buffer, b.byteOffset)
        dv.setUint32(at, 0xffffffff, true)
        dv.setInt32(at + 4, rng.pick([0x7fffffff, -1, -8, 0, 1, rng.int(0, 1 << 30)]), true)
      }
      return { how: 'length', bytes: b }
    }
    case 7:
      return { how: 'duplicate', bytes: concat(b, b.subarray(rng.int(0, b.length - 1))) }
    default: {
      // Overwrite one 4- or 8-byte word with an extreme integer (row counts, buffer offsets).
      const at = rng.int(0, Math.max(0, b.length - 8))
      const dv = new DataView(b.buffer, b.byteOffset)
      const v = rng.pick([0, 1, -1, 0x7fffffff, -0x80000000, 0xffff, rng.int(0, 1 << 20)])
      if (rng.chance(0.5)) dv.setInt32(at, v, true)
      else dv.setBigInt64(at, BigInt(v) * BigInt(rng.pick([1, 0x10000, 0x100000000])), true)
      return { how: 'word', bytes: b }
    }
  }
}

export function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

const JSON_JUNK = ['{', '}', '[', ']', ',', ':', '"', '\\', 'null', 'true', '1e400', '-0', 'NaN', '\u0000', '\n', '\ud800', '9007199254740993', '"\\u0000"', '{}', '[]']

/** A row with one field made wrong: type, null where not nullable, missing, extra, extreme values. */
function badRow (rng: Rng, i: number): Record<string, unknown> {
  const row: Record<string, unknown> = { ...makeRows(1, i)[0] }
  const field = rng.pick([...TEST_FIELDS.map((f) => f.name), 'extra'])
  row[field] = rng.pick<unknown>([null, 'x', 1.5, -1, 2 ** 63, '9223372036854775808', true, {}, [], [1, 2], 'not-a-date', '2024-13-45T99:00:00Z', 1e308, -1e308, 'x'.repeat(rng.int(0, 5000))])
  if (rng.chance(0.2)) delete row[rng.pick(TEST_FIELDS.map((f) => f.name))]
  return row
}

/** A JSON/NDJSON text mutated at character level, or built from wrong rows. */
function mutateText (rng: Rng, text: string): string {
  const chars = [...text]
  const n = rng.int(1, 6)
  for (let k = 0; k < n; k++) {
    const at = rng.int(0, chars.length)
    switch (rng.int(0, 2)) {
      case 0: chars.splice(at, rng.int(1, 8)); break
      case 1: chars.splice(at, 0, rng.pick(JSON_JUNK)); break
      default: chars[at] = String.fromCharCode(rng.int(0, 0x7f))
    }
  }
  return chars.join('')
}

export function ndjsonCase (rng: Rng): BodyCase {
  const n = rng.int(0, 30)
  switch (rng.int(0, 4)) {
    case 0: return { kind: 'ndjson-valid', contentType: NDJSON, body: makeNdjson(n, rng.int(0, 1e6)) }
    case 1: return { kind: 'ndjson-text', contentType: NDJSON, body: mutateText(rng, makeNdjson(Math.max(1, n))) }
    case 2: return { kind: 'ndjson-rows', contentType: NDJSON, body: Array.from({ length: Math.max(1, n) }, (_, i) => JSON.stringify(rng.chance(0.3) ? badRow(rng, i) : makeRows(1, i)[0])).join('\n') }
    case 3: return { kind: 'ndjson-values', contentType: NDJSON, body: Array.from({ length: rng.int(1, 5) }, () => rng.pick(['[]', '1', '"s"', 'null', '[{"id":1}]', '{"id":{"$gt":1}}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}'])).join('\n') }
    default: return { kind: 'ndjson-deep', contentType: NDJSON, body: '{"id":' + '['.repeat(rng.int(1, 20_000)) }
  }
}

export function jsonCase (rng: Rng): BodyCase {
  const n = rng.int(0, 30)
  switch (rng.int(0, 4)) {
    case 0: return { kind: 'json-valid', contentType: JSON_TYPE, body: JSON.stringify(makeRows(n, rng.int(0, 1e6))) }
    case 1: return { kind: 'json-text', contentType: JSON_TYPE, body: mutateText(rng, JSON.stringify(makeRows(Math.max(1, n)))) }
    case 2: return { kind: 'json-rows', contentType: JSON_TYPE, body: JSON.stringify(Array.from({ length: Math.max(1, n) }, (_, i) => rng.chance(0.3) ? badRow(rng, i) : makeRows(1, i)[0])) }
    case 3: return { kind: 'json-shape', contentType: JSON_TYPE, body: rng.pick(['{}', 'null', '1', '"x"', '[1,2]', '[null]', '[[]]', '{"rows":[]}', '', ' ', '[{"__proto__":{"id":1}}]']) }
    default: {
      const d = rng.int(1, 20_000)
      return { kind: 'json-deep', contentType: JSON_TYPE, body: '['.repeat(d) + ']'.repeat(rng.chance(0.5) ? d : 0) }
    }
  }
}

export function arrowCase (rng: Rng, corpus: Record<string, Uint8Array>): BodyCase {
  const names = Object.keys(corpus)
  const src = corpus[rng.pick(names)]
  const other = corpus[rng.pick(names)]
  const type = src === corpus.file10 ? ARROW_FILE : ARROW_STREAM
  const r = rng.int(0, 19)
  if (r === 0) return { kind: 'arrow-valid', contentType: type, body: src }
  if (r === 1) return { kind: 'arrow-garbage', contentType: rng.pick([ARROW_STREAM, ARROW_FILE]), body: rng.bytes(rng.int(0, 4096)) }
  if (r === 2) return { kind: 'arrow-wrong-type', contentType: type === ARROW_FILE ? ARROW_STREAM : ARROW_FILE, body: src }
  const { how, bytes } = mutate(rng, src, other)
  return { kind: `arrow-${how}`, contentType: type, body: bytes }
}

export function otherCase (rng: Rng): BodyCase {
  return rng.pick<BodyCase>([
    { kind: 'no-type', contentType: undefined, body: makeNdjson(2) },
    { kind: 'text', contentType: 'text/plain', body: 'hello' },
    { kind: 'form', contentType: 'application/x-www-form-urlencoded', body: 'a=b' },
    { kind: 'empty-stream', contentType: ARROW_STREAM, body: '' },
    { kind: 'empty-ndjson', contentType: NDJSON, body: '' },
    { kind: 'empty-json', contentType: JSON_TYPE, body: '' },
    { kind: 'weird-type', contentType: 'application/vnd.apache.arrow.stream; charset=utf-8; x=' + 'y'.repeat(200), body: makeIpcStream(1) }
  ])
}
