import { test } from 'tap'
import { join } from 'node:path'
import pl from 'nodejs-polars'
import { Field, Int32, Struct, tableToIPC, Table, TimeUnit, Timestamp, vectorFromArray } from 'apache-arrow'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { parquetFiles } from '../reliability/lib/parquet.ts'
import { timeZoneProblem } from '../../src/schema/time-zone.ts'

/*
 * A timestamp's time zone must be one readers know: polars cannot open an object whose zone it
 * cannot parse (`unable to parse time zone: 'Mars/Olympus'`), and CONTRACT §11 wants every column
 * read by polars. Topic creation, PATCH and Arrow streams (auto-create, evolution) refuse other
 * zones with 400 QUIVER_INVALID_SCHEMA naming the field and the zone; every zone accepted lands in
 * a Parquet object nodejs-polars reads.
 */

const invalid = (message: string) => ({ statusCode: 400, code: 'QUIVER_INVALID_SCHEMA', error: 'Bad Request', message: `Invalid schema: ${message}` })
const notIana = (path: string, tz: string) => `field "${path}": time zone "${tz}" is not an IANA time zone (such as UTC, Europe/Paris, America/New_York or a whole-hour offset like +05:00)`

// Aliases (links) ICU and polars both know, and offsets polars reads (as Etc/GMT∓H).
const ALIASES = ['UTC', 'Etc/UTC', 'GMT', 'Zulu', 'US/Eastern', 'US/Pacific', 'Asia/Kolkata', 'Europe/Kyiv', 'EST', 'CET', 'Etc/GMT+5', 'Etc/GMT-14']
const OFFSETS = ['+00:00', '-00:00', '+01:00', '+05:00', '+14:00', '-08:00', '-12:00']

test('timeZoneProblem: IANA names as spelt by the database and whole-hour offsets pass; the rest is named', async (t) => {
  const accepted = [...Intl.supportedValuesOf('timeZone'), ...ALIASES, ...OFFSETS]
  t.same(accepted.filter((tz) => timeZoneProblem(tz) !== null), [], `${accepted.length} zones accepted`)
  const refused: Array<[string, string]> = [
    ['Mars/Olympus', 'time zone "Mars/Olympus" is not an IANA time zone (such as UTC, Europe/Paris, America/New_York or a whole-hour offset like +05:00)'],
    ['Z', 'time zone "Z" is not an IANA time zone (such as UTC, Europe/Paris, America/New_York or a whole-hour offset like +05:00)'],
    ['UTC+5', 'time zone "UTC+5" is not an IANA time zone (such as UTC, Europe/Paris, America/New_York or a whole-hour offset like +05:00)'],
    ['america/new_york', 'time zone "america/new_york" is not spelt as the IANA database spells it ("America/New_York"); readers match names case-sensitively'],
    ['utc', 'time zone "utc" is not spelt as the IANA database spells it ("UTC"); readers match names case-sensitively'],
    ['us/eastern', 'time zone "us/eastern" is not spelt as the IANA database spells it; readers match names case-sensitively'],
    ['+05:30', 'time zone "+05:30" is an offset polars cannot read (only whole hours from -12:00 to +14:00); use the zone\'s IANA name'],
    ['+15:00', 'time zone "+15:00" is an offset polars cannot read (only whole hours from -12:00 to +14:00); use the zone\'s IANA name'],
    ['-13:00', 'time zone "-13:00" is an offset polars cannot read (only whole hours from -12:00 to +14:00); use the zone\'s IANA name'],
    ['+0530', 'time zone "+0530" is not an offset of the form ±HH:MM'],
    ['+05', 'time zone "+05" is not an offset of the form ±HH:MM']
  ]
  t.same(refused.map(([tz]) => [tz, timeZoneProblem(tz)]), refused)
})

test('every zone accepted lands in an object nodejs-polars reads with that zone', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  const zones = [...new Set([...Intl.supportedValuesOf('timeZone'), ...ALIASES, ...OFFSETS])]
  const fields = zones.map((tz, i) => ({ name: `z${i}`, type: `timestamp[us, tz=${tz}]`, nullable: true }))
  const created = await app.inject({ method: 'POST', url: '/v1/topics', headers: { authorization: `Bearer ${admin}` }, payload: { name: 'zones', schema: { fields } } })
  t.equal(created.statusCode, 201)
  const row = JSON.stringify(Object.fromEntries(fields.map((f) => [f.name, '2024-05-01T12:00:00Z'])))
  const sent = await app.inject({ method: 'POST', url: '/v1/topics/zones/records', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/x-ndjson' }, payload: row })
  t.equal(sent.statusCode, 200)
  const [file] = parquetFiles(join(dataDir, 'zones'))
  const df = pl.readParquet(file)
  t.same([df.height, df.width], [1, zones.length + 1])
  // polars names each column's zone as it read it (whole-hour offsets as their Etc/GMT∓H zone)
  const read = zones.map((tz, i) => {
    const dtype = df.getColumn(`z${i}`).dtype as unknown as { variant: string, timeZone?: string }
    return [tz, dtype.variant, typeof dtype.timeZone === 'string' && dtype.timeZone.length > 0]
  })
  const wrong = read.filter(([, variant, zoned]) => variant !== 'Datetime' || !zoned)
  t.same(wrong, [], `${zones.length} zones read as datetimes`)
})

test('POST, PATCH and Arrow streams refuse an unknown zone with 400 naming field and zone; nothing is created or changed', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  const call = async (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object | Buffer, contentType?: string) => {
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${admin}`, ...(contentType ? { 'content-type': contentType } : {}) }, ...(payload === undefined ? {} : { payload }) })
    return { status: res.statusCode, body: res.json() }
  }
  const arrow = (table: Table) => Buffer.from(tableToIPC(table, 'stream'))
  const at = new Date('2024-05-01T12:00:00Z').getTime()
  const mars = new Timestamp(TimeUnit.MICROSECOND, 'Mars/Olympus')

  t.same(await call('POST', '/v1/topics', { name: 'bad', schema: { fields: [{ name: 'at', type: 'timestamp[us, tz=Mars/Olympus]', nullable: true }] } }),
    { status: 400, body: invalid(notIana('at', 'Mars/Olympus')) })
  t.same(await call('POST', '/v1/topics', { name: 'bad', schema: { fields: [{ name: 's', type: 'struct<at: list<item: timestamp[ms, tz=+05:30]>>', nullable: true }] } }),
    { status: 400, body: invalid('field "s.at.item": time zone "+05:30" is an offset polars cannot read (only whole hours from -12:00 to +14:00); use the zone\'s IANA name') })
  t.equal((await call('GET', '/v1/topics/bad')).status, 404)

  t.equal((await call('POST', '/v1/topics', { name: 'ok', schema: { fields: [{ name: 'id', type: 'int32', nullable: true }] } })).status, 201)
  t.same(await call('PATCH', '/v1/topics/ok', { schema: { fields: [{ name: 'id', type: 'int32', nullable: true }, { name: 'at', type: 'timestamp[us, tz=Mars/Olympus]', nullable: true }] } }),
    { status: 400, body: invalid(notIana('at', 'Mars/Olympus')) })

  // a stream auto-creating a topic
  const autoCreate = arrow(new Table({ at: vectorFromArray([at], mars) }))
  t.same(await call('POST', '/v1/topics/mars/records', autoCreate, 'application/vnd.apache.arrow.stream'), { status: 400, body: invalid(notIana('at', 'Mars/Olympus')) })
  t.equal((await call('GET', '/v1/topics/mars')).status, 404)
  // a stream evolving a topic, at the top level and inside a struct
  const evolve = arrow(new Table({ id: vectorFromArray([1], new Int32()), at: vectorFromArray([at], mars) }))
  t.same(await call('POST', '/v1/topics/ok/records', evolve, 'application/vnd.apache.arrow.stream'), { status: 400, body: invalid(notIana('at', 'Mars/Olympus')) })
  const nested = new Struct([new Field('at', mars, true)])
  const inStruct = arrow(new Table({ id: vectorFromArray([1], new Int32()), s: vectorFromArray([{ at }], nested) }))
  t.same(await call('POST', '/v1/topics/ok/records', inStruct, 'application/vnd.apache.arrow.stream'), { status: 400, body: invalid(notIana('s.at', 'Mars/Olympus')) })
  const topic = await call('GET', '/v1/topics/ok')
  t.same([topic.body.schemaVersion, topic.body.schema, topic.body.stats.rows], [1, { fields: [{ name: 'id', type: 'int32', nullable: true }] }, 0])
  t.same(parquetFiles(join(dataDir, 'ok')), [])

  // a real zone from a stream still auto-creates
  const paris = arrow(new Table({ at: vectorFromArray([at], new Timestamp(TimeUnit.MICROSECOND, 'Europe/Paris')) }))
  t.equal((await call('POST', '/v1/topics/paris/records', paris, 'application/vnd.apache.arrow.stream')).status, 200)
  t.same((await call('GET', '/v1/topics/paris')).body.schema, { fields: [{ name: 'at', type: 'timestamp[us, tz=Europe/Paris]', nullable: true }] })
})
