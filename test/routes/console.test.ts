import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as Arrow from 'apache-arrow'
import { buildApp } from '../helpers/app.ts'
import { toBigInt, toDays, toFloat, toTimestamp } from '../../src/arrow/json-values.ts'

const BUILD = fileURLToPath(new URL('../../src/console/build.mjs', import.meta.url))

// The console converts files with the gateway's own value rules, bundled for the browser from
// src/arrow/value-converters.ts. Here the served module is loaded the way the page loads it
// (apache-arrow as window.Arrow, no Buffer) and held to the server's rules.
t.test('GET /console/value-converters.js: the gateway\'s value rules as one browser module', async (t) => {
  const { app } = await buildApp(t)
  const res = await app.inject({ method: 'GET', url: '/console/value-converters.js' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'text/javascript; charset=utf-8')
  t.notMatch(res.body, /\bimport\b[^;]*from\s*['"]/, 'self-contained: no import left for the browser to resolve')
  t.notMatch(res.body, /class RecordBatch\b/, 'no second copy of apache-arrow: the page\'s window.Arrow is used')
  const again = await app.inject({ method: 'GET', url: '/console/value-converters.js', headers: { 'if-none-match': String(res.headers.etag) } })
  t.equal(again.statusCode, 304, 'bundled once, then cached like every console file')

  // What `npm run build` writes for the built console is the same module.
  const dir = t.testdir()
  execFileSync(process.execPath, [BUILD, join(dir, 'value-converters.js')])
  t.equal(readFileSync(join(dir, 'value-converters.js'), 'utf8'), res.body, 'npm run build writes the module the sources serve')

  const file = join(dir, 'page.mjs')
  writeFileSync(file, res.body)
  const g = globalThis as { Arrow?: unknown, Buffer?: unknown }
  const buffer = g.Buffer
  g.Arrow = Arrow
  let m: typeof import('../../src/arrow/value-converters.ts')
  try {
    g.Buffer = undefined // as in the page
    m = await import(pathToFileURL(file).href)
  } finally {
    g.Buffer = buffer
  }
  const us = new Arrow.TimestampMicrosecond('UTC')
  const json = (type: Arrow.DataType) => m.converterFor(type, false)!
  const csv = (type: Arrow.DataType) => m.converterFor(type, true)!
  for (const v of ['2024-05-01T12:00:00.123456+02:00', '2024-02-30T00:00:00Z', 1714564800123.5, '0001-01-01', 'x']) {
    t.same(json(us)(v), toTimestamp(v, Arrow.TimeUnit.MICROSECOND), `timestamp ${JSON.stringify(v)} as NDJSON reads it`)
  }
  for (const v of ['9007199254740993', 9007199254740991, 2 ** 53, '9223372036854775808', 1.5]) {
    t.same(json(new Arrow.Int64())(v), toBigInt(v, true), `int64 ${JSON.stringify(v)} as NDJSON reads it`)
  }
  for (const v of ['NaN', 'inf', 1.25, '1.25']) t.same(json(new Arrow.Float64())(v), toFloat(v), `double ${JSON.stringify(v)} as NDJSON reads it`)
  t.same(json(new Arrow.DateDay())('2024-05-01'), toDays('2024-05-01'))
  t.same(json(new Arrow.Binary())('aGk='), new Uint8Array([104, 105]), 'base64 decoded without Buffer')
  t.equal(json(new Arrow.Int32())(2 ** 31), undefined, 'int32 out of range')
  t.equal(json(new Arrow.Int32())('7'), undefined, 'a JSON string is no int32 (as NDJSON)')
  // CSV cells are all text: numbers, booleans and epoch milliseconds are read from it.
  t.equal(csv(new Arrow.Int32())('-7'), -7)
  t.equal(csv(new Arrow.Float64())('-inf'), -Infinity)
  t.equal(csv(new Arrow.Float64())('.5e1'), 5)
  t.equal(csv(new Arrow.Bool())('Yes'), true)
  t.equal(csv(new Arrow.Bool())('maybe'), undefined)
  t.equal(csv(us)('1714564800000'), 1714564800000000n, 'epoch milliseconds as text')
  t.equal(m.converterFor(new Arrow.Decimal(2, 10, 128), false), null, 'types the console does not build')
  t.equal(m.describe('a'.repeat(50)), '"' + 'a'.repeat(36) + '...', 'messages describe values as the gateway does')
})
