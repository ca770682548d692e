import t from 'tap'
import { Field, Float16, Float64, Int32, Map_, Struct, Table, tableToIPC, TimeMillisecond, TimeSecond, Utf8, vectorFromArray } from 'apache-arrow'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { arrowFrame, flechetteFrame, polarsFrame } from '../e2e/producer-frames.ts'

/*
 * GET …/records as NDJSON (README "Types"): decimals as exact strings, times as HH:MM:SS.ffffff
 * (9 digits for nanoseconds), durations as integers (unit in the schema), binary as base64,
 * maps as objects for string keys and [[k, v], …] otherwise, int64 beyond 2^53 as strings.
 * The rows are the real producers' frames, stored as Parquet and read back by the gateway.
 */
t.test('NDJSON rows spell every stored type exactly', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const writer = localToken(dataDir, ['write', 'read'])
  const ingest = async (topic: string, body: Uint8Array) => {
    const res = await app.inject({ method: 'POST', url: `/v1/topics/${topic}/records`, headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' }, payload: Buffer.from(body) })
    t.equal(res.statusCode, 200, res.body)
  }
  const read = async (topic: string) => {
    const res = await app.inject({ url: `/v1/topics/${topic}/records`, headers: { authorization: `Bearer ${writer}`, accept: 'application/x-ndjson' } })
    t.equal(res.headers['content-type'], 'application/x-ndjson')
    return res.body.trim().split('\n').map((l) => {
      const { __ingested_at: at, ...row } = JSON.parse(l)
      t.match(at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
      return row
    })
  }

  await ingest('pol', polarsFrame())
  const polNulls = { id: null, i8: null, u16: null, f32: null, ok: null, name: null, cat: null, lst: null, arr: null, dec: null, tm: null, dur: null, day: null, at_ms: null, at_hel: null }
  t.same(await read('pol'), [
    { id: 1, i8: -128, u16: 0, f32: 1.5, ok: true, name: 'ä', cat: 'red', lst: [1.5, 2], arr: [1, 2, 3], dec: '12.34', tm: '01:02:03.000001000', dur: 1500, day: '2024-05-01', at_ms: '2024-05-01T12:00:00.123000Z', at_hel: '2024-05-01T12:00:00.123456Z', st: { a: 1, b: 'x' } },
    { ...polNulls, st: { a: null, b: null } },
    { id: 3, i8: 127, u16: 65535, f32: -0.25, ok: false, name: 'a string longer than twelve bytes', cat: 'blue', lst: [], arr: [4, 5, 6], dec: '-0.01', tm: '00:00:00.000000000', dur: -3, day: '1969-12-31', at_ms: '1970-01-01T00:00:00.000000Z', at_hel: '1970-01-01T00:00:00.000001Z', st: { a: 3, b: 'z' } }
  ])

  await ingest('fle', flechetteFrame())
  t.same(await read('fle'), [
    { l: [1, 2], d: '12.34', fsl: [1, 2, 3], m: { a: 1, b: null }, dict: 'x', ts: '2024-05-01T12:00:00.123000Z', big: '4611686018427387904', d64: '-123456789.25' },
    { l: null, d: null, fsl: null, m: null, dict: null, ts: null, big: null, d64: null },
    { l: [], d: '-0.01', fsl: [4.5, 5, 6], m: {}, dict: 'x', ts: '1970-01-01T00:00:00.000000Z', big: -1, d64: '0.50' }
  ])

  await ingest('arr', arrowFrame())
  t.same(await read('arr'), [
    { fsb: Buffer.alloc(16, 1).toString('base64'), tm: '01:02:03.000001000', d64: '2024-05-01', du: 1500, sv: 'short', bv: 'Bwc=', lb: 'AA==', at: '2024-05-01T12:00:00.123456Z', dec: '123.456' },
    { fsb: null, tm: null, d64: null, du: null, sv: null, bv: null, lb: null, at: null, dec: null },
    { fsb: Buffer.alloc(16, 255).toString('base64'), tm: '00:00:00.000000000', d64: '1969-12-31', du: -3, sv: 'a string longer than twelve bytes', bv: Buffer.alloc(20, 9).toString('base64'), lb: '', at: '1969-12-31T23:59:59.999999Z', dec: '-0.001' }
  ])

  // maps with non-string keys, time32 units, non-finite floats, half floats
  const entries = new Field('entries', new Struct([new Field('key', new Int32(), false), new Field('value', new Utf8(), true)]), false)
  const other = new Table({
    im: vectorFromArray([new Map([[1, 'a'], [2, null]]), null], new Map_(entries)),
    t32: vectorFromArray([3723123, null], new TimeMillisecond()),
    ts: vectorFromArray([86399, null], new TimeSecond()),
    f: vectorFromArray([NaN, -Infinity], new Float64()),
    h: vectorFromArray([0.5, null], new Float16())
  })
  await ingest('other', tableToIPC(other, 'stream'))
  t.same(await read('other'), [
    { im: [[1, 'a'], [2, null]], t32: '01:02:03.123000', ts: '23:59:59.000000', f: 'NaN', h: 0.5 },
    { im: null, t32: null, ts: null, f: '-Infinity', h: null }
  ])
})
