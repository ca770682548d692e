/**
 * Files for the console's upload test. Row i of topic `orders` is `orderRow(i)`; the CSV holds
 * rows 0…2999, the NDJSON 3000…5999 and the Arrow IPC stream 6000…8999, each written the way
 * that format spells the values (quoted CSV text, ISO timestamps with offsets, epoch
 * milliseconds, int64 beyond 2^53), so the rows read back from Parquet can be compared exactly.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  Bool, Field, Float64, Int64, makeData, makeVector, RecordBatch, Schema, Struct, Table, tableToIPC, TimestampMicrosecond, Utf8, vectorFromArray
} from 'apache-arrow'

export const ORDERS_FIELDS = [
  { name: 'id', type: 'int64', nullable: false },
  { name: 'name', type: 'string', nullable: true },
  { name: 'amount', type: 'double', nullable: true },
  { name: 'ts', type: 'timestamp[us, tz=UTC]', nullable: false },
  { name: 'ok', type: 'bool', nullable: true }
]
export const PER_FILE = 3000
export const BIG_ID = '9007199254740993' // 2^53 + 1: not a JavaScript number
const BASE_US = 1_714_564_800_000_000n // 2024-05-01T12:00:00Z

export interface OrderRow { id: string, name: string | null, amount: number | null, ts: string, ok: boolean | null }

/** Row i as DuckDB returns it: id and epoch microseconds as text. */
export function orderRow (i: number): OrderRow {
  const special = ['Smith, "Jr"\nsecond line', 'héllo ✓ 日本', '', '  padded  ']
  return {
    id: i === 0 ? BIG_ID : String(i),
    name: i >= 1 && i <= 4 ? special[i - 1] : i % 7 === 3 ? null : `name-${i}`,
    amount: i % 11 === 5 ? null : i * 0.25,
    ts: String(BASE_US + BigInt(i) * 1_000_000n + BigInt(i % 1000)),
    ok: i % 13 === 6 ? null : i % 3 === 0
  }
}

const range = (from: number) => Array.from({ length: PER_FILE }, (_, k) => orderRow(from + k))

/** ISO 8601 with microseconds; `offsetHours` shifts the wall clock and writes the offset. */
function iso (us: bigint, offsetHours = 0): string {
  const shifted = us + BigInt(offsetHours) * 3_600_000_000n
  const base = new Date(Number(shifted / 1000n)).toISOString().slice(0, 19)
  const frac = String(shifted % 1_000_000n).padStart(6, '0')
  const off = offsetHours === 0 ? 'Z' : `${offsetHours > 0 ? '+' : '-'}${String(Math.abs(offsetHours)).padStart(2, '0')}:00`
  return `${base}.${frac}${off}`
}

function csvCell (v: string | null): string {
  if (v === null) return ''
  return v === '' || /[",\n]|^\s|\s$/.test(v) ? `"${v.replace(/"/g, '""')}"` : v
}

/** CSV: header in topic order but `ok` first; whole-second rows as epoch milliseconds. */
function ordersCsv (): string {
  const lines = ['ok,id,name,amount,ts']
  for (const r of range(0)) {
    const us = BigInt(r.ts)
    const ts = us % 1_000_000n === 0n ? String(us / 1000n) : iso(us)
    lines.push([r.ok === null ? '' : String(r.ok), r.id, csvCell(r.name), r.amount === null ? '' : String(r.amount), ts].join(','))
  }
  return lines.join('\n') + '\n'
}

/** NDJSON: nulls as null or absent keys, odd rows with a +02:00 offset, ids as numbers. */
function ordersNdjson (): string {
  return range(PER_FILE).map((r, k) => {
    const o: Record<string, unknown> = { id: Number(r.id), ts: iso(BigInt(r.ts), k % 2 === 1 ? 2 : 0), ok: r.ok }
    if (r.name !== null) o.name = r.name
    o.amount = r.amount
    return JSON.stringify(o)
  }).join('\n') + '\n'
}

/** Arrow IPC stream: every column nullable, columns in another order, two record batches. */
function ordersArrow (): Uint8Array {
  const tsType = new TimestampMicrosecond('UTC')
  const fields = [
    new Field('ts', tsType, true), new Field('ok', new Bool(), true), new Field('id', new Int64(), true),
    new Field('amount', new Float64(), true), new Field('name', new Utf8(), true)
  ]
  const schema = new Schema(fields)
  const rows = range(2 * PER_FILE)
  const batch = (part: OrderRow[]) => {
    const cols = [
      // apache-arrow's timestamp builder takes float milliseconds: microseconds go in as buffers
      makeVector(makeData({ type: tsType, length: part.length, nullCount: 0, data: BigInt64Array.from(part, r => BigInt(r.ts)) })), vectorFromArray(part.map(r => r.ok), fields[1].type),
      vectorFromArray(part.map(r => BigInt(r.id)), fields[2].type), vectorFromArray(part.map(r => r.amount), fields[3].type),
      vectorFromArray(part.map(r => r.name), fields[4].type)
    ]
    return new RecordBatch(schema, makeData({ type: new Struct(fields), length: part.length, nullCount: 0, children: cols.map(c => c.data[0]) }))
  }
  return tableToIPC(new Table([batch(rows.slice(0, 1800)), batch(rows.slice(1800))]), 'stream')
}

/** Writes the upload files into `dir`; returns their paths. */
export function writeUploadFiles (dir: string) {
  const files = {
    csv: join(dir, 'orders.csv'),
    ndjson: join(dir, 'orders.ndjson'),
    arrow: join(dir, 'orders.arrows'),
    badCsv: join(dir, 'orders-bad.csv'),
    badNdjson: join(dir, 'orders-bad.ndjson'),
    readings: join(dir, 'readings.csv')
  }
  writeFileSync(files.csv, ordersCsv())
  writeFileSync(files.ndjson, ordersNdjson())
  writeFileSync(files.arrow, ordersArrow())
  writeFileSync(files.badCsv, 'id,name,amount,ts,ok\n900001,bad-a,1.5,2024-05-01T00:00:00Z,true\n900002,"bad-b, quoted",2.5,2024-05-01T00:00:01Z,false\nseven,bad-c,3.5,2024-05-01T00:00:02Z,true\n')
  writeFileSync(files.badNdjson, '{"id":900003,"ts":"2024-05-01T00:00:00Z"}\n\n{"id":900004,"ts":"2024-05-01T00:00:01Z","amount":"abc"}\n')
  // A new topic, auto-created with the types the page infers. CRLF line ends, blank cells as nulls.
  const readings = ['sensor,reading,count,at,day,alarm']
  for (let i = 0; i < 200; i++) {
    readings.push([`s-${i % 5}`, i % 4 === 0 ? String(20 + i) : (20 + i + 0.5).toFixed(1), i % 10 === 9 ? '' : String(i),
      `2024-06-0${1 + (i % 9)} 08:${String(i % 60).padStart(2, '0')}:00`, `2024-06-0${1 + (i % 9)}`, i % 2 === 0 ? 'true' : 'FALSE'].join(','))
  }
  writeFileSync(files.readings, readings.join('\r\n') + '\r\n')
  return files
}
