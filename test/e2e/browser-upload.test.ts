import { test } from 'tap'
import { mkdirSync } from 'node:fs'
import { basename, join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { DuckDBInstance } from '@duckdb/node-api'
import type { Page } from 'playwright-core'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { OUTPUT, openPage, pageNumber } from './browser-helpers.ts'
import { BIG_ID, ORDERS_FIELDS, PER_FILE, orderRow, writeUploadFiles } from './upload-files.ts'
import { CONVERSION_RESULTS, conversionCases, convertInPage } from './upload-cases.ts'

/** Chooses `file` in the page's own file input, clicks Send and returns the settled upload status. */
async function upload (page: Page, file: string): Promise<{ kind: string, text: string }> {
  await page.setInputFiles('#file', file)
  await page.click('#send-file')
  await page.waitForFunction((name) => {
    const el = document.getElementById('upload-status')!
    return el.textContent!.includes(name) && /\b(ok|err)$/.test(el.className)
  }, basename(file), { timeout: 30_000 })
  return page.$eval('#upload-status', (el) => ({ kind: el.className.replace('upload-status ', ''), text: el.textContent! }))
}

async function duckdb (t: { teardown: (fn: () => unknown) => void }) {
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  t.teardown(() => { conn.closeSync(); db.closeSync() })
  await conn.run("SET TimeZone = 'UTC'")
  return async (sql: string) => (await conn.runAndReadAll(sql)).getRowObjectsJS()
}

test('the console converts CSV, NDJSON and Arrow files in the page and the rows land on storage', async (t) => {
  const { app, dataDir } = await buildApp(t, { FLUSH_INTERVAL_MS: '200', ENCODER_THREADS: '1' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const admin = { authorization: `Bearer ${localToken(dataDir, ['admin'])}` }
  const created = await fetch(`${origin}/v1/topics`, {
    method: 'POST',
    headers: { ...admin, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'orders', schema: { fields: ORDERS_FIELDS } })
  })
  t.equal(created.status, 201, 'topic orders created by an admin')
  const files = writeUploadFiles(t.testdir())
  const { page, problems } = await openPage(t, origin)

  // A writer token pasted by hand, then the existing topic picked by name.
  await page.goto(`${origin}/console`)
  await page.fill('#token', localToken(dataDir, ['write'], { subject: 'uploader' }))
  await page.click('#connect')
  await page.waitForSelector('#auth-status.ok')
  await page.waitForSelector('#topic-list option[value="orders"]', { state: 'attached' })
  await page.fill('#topic', 'orders')
  await page.waitForSelector('#schema .field')
  t.same(await page.$$eval('#schema .field', (els) => els.map((e) => e.textContent)),
    ['id int64 not null', 'name string', 'amount double', 'ts timestamp[us, tz=UTC] not null', 'ok bool'])
  await page.click('#tail-toggle')
  await page.waitForSelector('#tail-status.ok')
  await page.click('.tab[data-tab="upload"]')
  // 700 rows per message: slices start off byte boundaries of the validity bitmaps and, in the
  // Arrow file (batches of 1,800 and 1,200 rows), one slice spans two record batches.
  await page.fill('#upload-batch', '700')

  for (const file of [files.csv, files.ndjson, files.arrow]) {
    const name = basename(file).replace('.', '\\.')
    t.match(await upload(page, file), { kind: 'ok', text: new RegExp(`^✓ ${name}: 3,000 rows acked in 5 messages \\(\\d+\\.\\d s\\)$`) }, `${basename(file)} acked`)
  }
  // The same file again: its messages carry the same keys (the "Exactly once" box is on by
  // default), so the gateway replays every ack and stores nothing twice (DuckDB below: 9,000 rows).
  t.ok(await page.isChecked('#upload-keys'), 'keys are on by default')
  t.match(await upload(page, files.csv), { kind: 'ok', text: /^✓ orders\.csv: 3,000 rows acked in 5 messages, 5 replayed \(already stored, not stored again\) \(\d+\.\d s\)$/ }, 'a resent file is replayed')

  // Bad files: the page names file, line and field, and sends nothing.
  t.same(await upload(page, files.badCsv), { kind: 'err', text: 'orders-bad.csv line 4: field "id": expected int64, got "seven". Nothing was sent.' })
  t.same(await upload(page, files.badNdjson), { kind: 'err', text: 'orders-bad.ndjson line 3: field "amount": expected double, got "abc". Nothing was sent.' })
  t.match(await page.textContent('#log'), /orders-bad\.csv line 4: field "id": expected int64, got "seven"\. Nothing was sent\./, 'the error is in the event log too')

  // A new name: the gateway auto-creates the topic with the types the page inferred.
  await page.fill('#topic', 'readings')
  t.match(await upload(page, files.readings), { kind: 'ok', text: /^✓ readings\.csv: 200 rows acked in 1 message \(\d+\.\d s\)$/ })

  t.equal(await pageNumber(page, '#acked-rows'), 4 * PER_FILE + 200, 'the page counted every acked row (the replayed file\'s too)')
  t.equal(await page.textContent('#errors'), '0', 'no message was rejected')
  await page.waitForFunction(() => document.querySelectorAll('#tail-table tbody tr:not(:has(.empty))').length > 0)
  t.same(await page.$$eval('#tail-table th', (els) => els.map((e) => e.textContent)), ['id', 'name', 'amount', 'ts', 'ok', '__ingested_at'], 'live tail of orders, with the ingestion time the tail now carries')
  await page.waitForTimeout(1100) // one more chart tick
  mkdirSync(OUTPUT, { recursive: true })
  await page.screenshot({ path: join(OUTPUT, 'console-upload.png'), fullPage: true })
  await page.click('#tail-toggle')

  const sql = await duckdb(t)
  const orders = `read_parquet('${join(dataDir, 'orders')}/**/*.parquet', hive_partitioning = false)`
  t.same((await sql(`DESCRIBE SELECT * FROM ${orders}`)).map((d) => [d.column_name, d.column_type]), [
    ['id', 'BIGINT'], ['name', 'VARCHAR'], ['amount', 'DOUBLE'], ['ts', 'TIMESTAMP WITH TIME ZONE'], ['ok', 'BOOLEAN'], ['__ingested_at', 'TIMESTAMP WITH TIME ZONE']
  ])
  const expected = Array.from({ length: 3 * PER_FILE }, (_, i) => orderRow(i)).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1))
  const stored = await sql(`SELECT id::VARCHAR AS id, name, amount, epoch_us(ts)::VARCHAR AS ts, ok FROM ${orders} ORDER BY id::BIGINT`)
  t.equal(stored.length, 3 * PER_FILE, 'exactly the rows of the three files, none of the bad ones')
  // Row by row as JSON (tap's deep compare of 9,000 rows takes seconds); a mismatch shows its row.
  const bad = stored.findIndex((row, i) => JSON.stringify(row) !== JSON.stringify(expected[i]))
  t.same(stored[bad], expected[bad], 'every value of every row as written in the files')
  const idSum = expected.reduce((s, r) => s + BigInt(r.id), 0n)
  t.same(await sql(`SELECT count(*)::VARCHAR AS n, sum(id)::VARCHAR AS ids, sum(amount) AS amounts, count(name)::VARCHAR AS names,
    sum(ok::INT)::VARCHAR AS oks, count(*) FILTER (WHERE name LIKE 'bad-%')::VARCHAR AS bad FROM ${orders}`), [{
    n: '9000', ids: String(idSum), amounts: expected.reduce((s, r) => s + (r.amount ?? 0), 0), names: '7715', oks: '2769', bad: '0'
  }])
  t.same(await sql(`SELECT id::VARCHAR AS id, name, strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ') AS ts FROM ${orders} WHERE id IN (${BIG_ID}, 1, 3, 1000, 3001) ORDER BY id::BIGINT`), [
    { id: '1', name: 'Smith, "Jr"\nsecond line', ts: '2024-05-01T12:00:01.000001Z' },
    { id: '3', name: '', ts: '2024-05-01T12:00:03.000003Z' },
    { id: '1000', name: 'name-1000', ts: '2024-05-01T12:16:40.000000Z' },
    { id: '3001', name: 'name-3001', ts: '2024-05-01T12:50:01.000001Z' },
    { id: BIG_ID, name: 'name-0', ts: '2024-05-01T12:00:00.000000Z' }
  ], 'int64 past 2^53, a quoted CSV string, the empty string, epoch-ms and +02:00 timestamps')

  const readings = await (await fetch(`${origin}/v1/topics/readings`, { headers: admin })).json()
  t.same(readings.schema, {
    fields: [
      { name: 'sensor', type: 'string', nullable: true }, { name: 'reading', type: 'double', nullable: true },
      { name: 'count', type: 'int64', nullable: true }, { name: 'at', type: 'timestamp[us, tz=UTC]', nullable: true },
      { name: 'day', type: 'date32[day]', nullable: true }, { name: 'alarm', type: 'bool', nullable: true }
    ]
  }, 'readings auto-created with the inferred types')
  t.equal(readings.stats.rows, 200)
  const r = `read_parquet('${join(dataDir, 'readings')}/**/*.parquet', hive_partitioning = false)`
  t.same(await sql(`SELECT count(count)::VARCHAR AS counts, sum(count)::VARCHAR AS total, sum(reading) AS reading, strftime(min("at"), '%Y-%m-%d %H:%M') AS first_at,
    max(day)::VARCHAR AS day, sum(alarm::INT)::VARCHAR AS alarms FROM ${r}`), [
    { counts: '180', total: '17820', reading: 23975, first_at: '2024-06-01 08:00', day: '2024-06-09', alarms: '100' }
  ])

  await t.test('conversion errors name the file, the row and the field', async (t) => {
    const cases = conversionCases()
    const got = await convertInPage(page, cases)
    cases.forEach((c, i) => {
      const want = CONVERSION_RESULTS[i]
      if (typeof want === 'string') t.equal(got[i], want, c.name)
      else t.match(got[i], want, c.name)
    })
  })

  t.same(problems, [], 'no console errors, nothing loaded from elsewhere')
})
