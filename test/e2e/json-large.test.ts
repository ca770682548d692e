import t, { test } from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { createTopic, startGateway, type Gateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { postChunks } from '../helpers/post-chunks.ts'

/*
 * A JSON body is read element by element (NDJSON line by line) and converted in
 * bounded batches that are staged like a large Arrow stream, never held whole. Before: one 300 MiB
 * JSON array took the gateway from 138 to 1,678 MiB RSS. The body is generated as it is sent.
 */
// Sending 340 MiB through the JSON path took up to 4 min in a full run at load 14, near the 240 s a file gets.
t.setTimeout(600_000)
const MiB = 1024 * 1024
const TARGET_MB = Number(process.env.JSON_TEST_MB ?? 300)
const ROWS_PER_CHUNK = 10_000
const BASE_MS = Date.UTC(2024, 4, 1, 12)

function rssMiB (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : 0
}

/** Rows `from`…`from+n-1` as JSON text: `,`-separated array elements or `\n`-terminated lines. */
function rowsText (from: number, n: number, ndjson: boolean): string {
  const out: string[] = []
  for (let i = from; i < from + n; i++) {
    out.push(`{"id":${i},"name":"name-${i}","price":${i * 1.5},"ts":"${new Date(BASE_MS + i * 1000).toISOString()}","ok":${i % 2 === 0}}`)
  }
  return ndjson ? out.join('\n') + '\n' : out.join(',')
}

function * jsonArray (rows: number, sent: { bytes: number }): Generator<Buffer> {
  for (let i = 0; i < rows; i += ROWS_PER_CHUNK) {
    const chunk = Buffer.from((i === 0 ? '[' : ',') + rowsText(i, Math.min(ROWS_PER_CHUNK, rows - i), false) + (i + ROWS_PER_CHUNK >= rows ? ']' : ''))
    sent.bytes += chunk.byteLength
    yield chunk
  }
}

function * ndjson (rows: number, sent: { bytes: number }): Generator<Buffer> {
  for (let i = 0; i < rows; i += ROWS_PER_CHUNK) {
    const chunk = Buffer.from(rowsText(i, Math.min(ROWS_PER_CHUNK, rows - i), true))
    sent.bytes += chunk.byteLength
    yield chunk
  }
}

async function readBack (t: { teardown: (fn: () => void) => void }, gw: Gateway, topic: string) {
  const dir = join(gw.dataDir, topic)
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet')).map((f) => join(dir, f))
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  const list = files.map((f) => `'${f}'`).join(',')
  const sql = `SELECT count(*)::VARCHAR AS n, count(DISTINCT id)::VARCHAR AS ids, sum(id)::VARCHAR AS sum, max(name) FILTER (WHERE id = 7) AS name7 FROM read_parquet([${list}])`
  return { files: files.length, agg: (await conn.runAndReadAll(sql)).getRowObjectsJS()[0] }
}

test(`a ${TARGET_MB} MiB JSON array and a ${Math.round(TARGET_MB / 10)} MiB NDJSON body land whole, the gateway's RSS growing by less than the body`, async (t) => {
  // Bodies over FLUSH_MAX_BYTES are staged (the default 64 MiB would do too; lower holds less).
  const gw = await startGateway(t, { FLUSH_MAX_BYTES: String(16 * MiB) })
  await createTopic(gw, 'events')
  await createTopic(gw, 'lines')
  const writer = localToken(gw.dataDir, ['write'])
  const rowBytes = rowsText(100_000, 1000, false).length / 1000 // ids below 10^6 are a byte shorter: the body ends at or just over TARGET_MB
  const rows = Math.ceil(TARGET_MB * MiB / rowBytes)

  let peak = rssMiB(gw.proc.pid!)
  const before = peak
  const sampler = setInterval(() => { peak = Math.max(peak, rssMiB(gw.proc.pid!)) }, 25)
  t.teardown(() => clearInterval(sampler))
  const sent = { bytes: 0 }
  const started = performance.now()
  const res = await postChunks(`${gw.url}/v1/topics/events/records`, writer, jsonArray(rows, sent), { contentType: 'application/json' })
  const seconds = (performance.now() - started) / 1000
  t.equal(res.status, 200, res.body + gw.stderr().slice(-3000))
  t.match(JSON.parse(res.body), { topic: 'events', rows, bytes: sent.bytes, ack: 'durable' })
  t.comment(`JSON array: ${(sent.bytes / MiB).toFixed(0)} MiB (${rows} rows) in ${seconds.toFixed(1)} s; gateway RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MiB`)
  // Held whole, the array's text alone is ~300 MiB (as JS objects it took RSS from 138 to 1,678 MiB);
  // converted in batches it grew 76–140 MiB here. The idle gateway (tsx, two encoder threads,
  // coverage) is ~190–220 MiB on Node 20 and ~240–270 on Node 22, so an absolute bound of 400
  // measured the idle process as much as the body: the growth is bounded below the body's size,
  // and the peak by the idle gateway plus that.
  t.ok(peak - before < 250, `RSS growth ${(peak - before).toFixed(0)} MiB < 250 MiB, below the body's size`)
  t.ok(peak < 520, `peak RSS ${peak.toFixed(0)} MiB < 520 MiB`)
  const back = await readBack(t, gw, 'events')
  t.same(back.agg, { n: String(rows), ids: String(rows), sum: String(BigInt(rows) * BigInt(rows - 1) / 2n), name7: 'name-7' }, `every row read back from ${back.files} Parquet object(s)`)

  const lineRows = Math.ceil(rows / 10)
  const sentLines = { bytes: 0 }
  const lines = await postChunks(`${gw.url}/v1/topics/lines/records`, writer, ndjson(lineRows, sentLines), { contentType: 'application/x-ndjson' })
  t.equal(lines.status, 200, lines.body)
  t.match(JSON.parse(lines.body), { topic: 'lines', rows: lineRows, bytes: sentLines.bytes, ack: 'durable' })
  t.comment(`NDJSON: ${(sentLines.bytes / MiB).toFixed(0)} MiB; peak RSS over both ${peak.toFixed(0)} MiB`)
  t.ok(peak - before < 250, `RSS growth ${(peak - before).toFixed(0)} MiB < 250 MiB after NDJSON too`)
  const backLines = await readBack(t, gw, 'lines')
  t.same(backLines.agg, { n: String(lineRows), ids: String(lineRows), sum: String(BigInt(lineRows) * BigInt(lineRows - 1) / 2n), name7: 'name-7' })
})
