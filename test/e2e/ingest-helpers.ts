import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { DuckDBInstance } from '@duckdb/node-api'
import { readParquet } from 'parquet-wasm'
import { tableFromIPC, type Table } from 'apache-arrow'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { TEST_TOPIC_SCHEMA } from '../helpers/arrow.ts'

type T = Parameters<typeof buildApp>[0]

export interface CurlResult { status: number, headers: Record<string, string>, body: string }

/** Runs the real curl; returns status, lower-cased headers and body. */
export function curl (args: string[]): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '-i', '--no-progress-meter', ...args], { encoding: 'buffer', maxBuffer: 64 << 20 }, (err, stdout) => {
      if (err && !stdout?.length) return reject(err)
      const text = stdout.toString('utf8')
      // Skip interim "HTTP/1.1 100 Continue" blocks.
      const blocks = text.split('\r\n\r\n')
      let i = 0
      while (/^HTTP\/[\d.]+ 100/.test(blocks[i] ?? '')) i++
      const head = blocks[i].split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of head.slice(1)) {
        const k = line.indexOf(':')
        headers[line.slice(0, k).toLowerCase()] = line.slice(k + 1).trim()
      }
      resolve({ status: Number(head[0].split(' ')[1]), headers, body: blocks.slice(i + 1).join('\r\n\r\n') })
    })
  })
}

/** A listening app with tokens and a topic `events` of TEST_TOPIC_SCHEMA. */
export async function listeningApp (t: T, env: Record<string, string> = {}) {
  const built = await buildApp(t, env)
  await built.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = built.app.server.address() as AddressInfo
  const base = `http://127.0.0.1:${port}`
  const writer = localToken(built.dataDir, ['write'])
  const admin = localToken(built.dataDir, ['admin'])
  const res = await fetch(`${base}/v1/topics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'events', schema: TEST_TOPIC_SCHEMA })
  })
  if (res.status !== 201) throw new Error(`topic create: ${res.status} ${await res.text()}`)
  return { ...built, base, writer, admin }
}

export function parquetTable (bytes: Uint8Array): Table {
  return tableFromIPC(readParquet(bytes).intoIPCStream()) as Table
}

/** Column types, aggregates and timestamps of Parquet files as DuckDB sees them. */
export async function duckdbSummary (t: { teardown: (fn: () => unknown) => void, testdir: () => string }, objects: Uint8Array[]) {
  const dir = t.testdir()
  const files = objects.map((o, i) => { const f = join(dir, `o${i}.parquet`); writeFileSync(f, o); return f })
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  const src = `read_parquet([${files.map((f) => `'${f}'`).join(', ')}])`
  const types = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`)).getRowObjectsJS().map((d) => [d.column_name, d.column_type])
  const agg = (await conn.runAndReadAll(`SELECT count(*)::BIGINT::VARCHAR AS n, sum(id)::BIGINT::VARCHAR AS ids, sum(price) AS prices,
    sum(ok::INT)::BIGINT::VARCHAR AS oks, epoch_us(min(ts))::VARCHAR AS t0, epoch_us(max(ts))::VARCHAR AS t1,
    epoch_ms(min(__ingested_at))::BIGINT::VARCHAR AS i0, epoch_ms(max(__ingested_at))::BIGINT::VARCHAR AS i1 FROM ${src}`)).getRowObjectsJS()[0]
  return { types, agg }
}

export const TEST_DUCKDB_TYPES = [
  ['id', 'BIGINT'], ['name', 'VARCHAR'], ['price', 'DOUBLE'], ['ts', 'TIMESTAMP WITH TIME ZONE'], ['ok', 'BOOLEAN'],
  ['__ingested_at', 'TIMESTAMP WITH TIME ZONE']
]

export const HIVE_KEY = /^events\/year=(\d{4})\/month=(\d{2})\/day=(\d{2})\/hour=(\d{2})\/[0-9A-HJKMNP-TV-Z]{26}\.parquet$/
