import t from 'tap'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'

/*
 * NDJSON / JSON into every declared type: decimals from strings and numbers without float
 * rounding, times, durations, ISO dates, fixed-size binary from base64, maps from objects or
 * pairs; read back through Parquet as NDJSON, which spells the same values the same way.
 */
const SCHEMA = {
  fields: [
    { name: 'id', type: 'int32', nullable: false },
    { name: 'price', type: 'decimal128(12, 2)' },
    { name: 'big', type: 'decimal256(40, 5)' },
    { name: 'tod', type: 'time64[us]' },
    { name: 'tms', type: 'time32[ms]' },
    { name: 'wait', type: 'duration[ms]' },
    { name: 'day', type: 'date64[ms]' },
    { name: 'uuid', type: 'fixed_size_binary[4]' },
    { name: 'attrs', type: 'map<string, int32>' },
    { name: 'codes', type: 'map<int32, string>' },
    { name: 'xs', type: 'large_list<item: int64>' },
    { name: 'vec', type: 'fixed_size_list<item: float>[2]' },
    { name: 'at', type: 'timestamp[ns, tz=UTC]' }
  ]
}

t.test('NDJSON rows convert into every type and read back exactly', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  t.equal((await app.inject({ method: 'POST', url: '/v1/topics', headers: { authorization: `Bearer ${admin}` }, payload: { name: 'typed', schema: SCHEMA } })).statusCode, 201)
  const post = (rows: unknown[]) => app.inject({ method: 'POST', url: '/v1/topics/typed/records', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/x-ndjson' }, payload: rows.map((r) => JSON.stringify(r)).join('\n') })
  const rows = [
    { id: 1, price: '12.34', big: '123456789012345678901234567890.12345', tod: '01:02:03.000004', tms: '23:59:59.5', wait: 1500, day: '2024-05-01', uuid: 'AAECAw==', attrs: { a: 1, b: null }, codes: [[1, 'x'], [2, null]], xs: ['9007199254740993', -1], vec: [0.5, null], at: '2024-05-01T12:00:00.123456789Z' },
    { id: 2, price: 0.1, big: -1e-5, tod: 3723000004, tms: 0, wait: '-9007199254740993', day: '1969-12-31', uuid: null, attrs: {}, codes: [], xs: [], vec: null, at: null },
    { id: 3 }
  ]
  const ok = await post(rows)
  t.same([ok.statusCode, ok.json().rows], [200, 3], ok.body)
  const read = await app.inject({ url: '/v1/topics/typed/records', headers: { authorization: `Bearer ${admin}`, accept: 'application/x-ndjson' } })
  const back = read.body.trim().split('\n').map((l) => { const { __ingested_at: _, ...r } = JSON.parse(l); return r })
  const nulls = { price: null, big: null, tod: null, tms: null, wait: null, day: null, uuid: null, attrs: null, codes: null, xs: null, vec: null, at: null }
  t.same(back, [
    { id: 1, price: '12.34', big: '123456789012345678901234567890.12345', tod: '01:02:03.000004', tms: '23:59:59.500000', wait: 1500, day: '2024-05-01', uuid: 'AAECAw==', attrs: { a: 1, b: null }, codes: [[1, 'x'], [2, null]], xs: ['9007199254740993', -1], vec: [0.5, null], at: '2024-05-01T12:00:00.123456Z' },
    { id: 2, price: '0.10', big: '-0.00001', tod: '01:02:03.000004', tms: '00:00:00.000000', wait: '-9007199254740993', day: '1969-12-31', uuid: null, attrs: {}, codes: [], xs: [], vec: null, at: null },
    { id: 3, ...nulls }
  ])

  const refused = async (row: Record<string, unknown>, message: string) => {
    const res = await post([{ id: 9, ...row }])
    t.same([res.statusCode, res.json()], [400, { statusCode: 400, code: 'QUIVER_INVALID_JSON', error: 'Bad Request', message: `Invalid JSON data: ${message}` }])
  }
  // A number the decimal cannot hold is 422, as in an Arrow body; what is no decimal at all is 400.
  const tooPrecise = async (price: unknown, shown: string) => {
    const res = await post([{ id: 9, price }])
    t.same([res.statusCode, res.json()], [422, { statusCode: 422, code: 'QUIVER_DECIMAL_PRECISION', error: 'Unprocessable Entity', message: `Decimal value out of range: line 1: field "price": value ${shown} has more than 12 digits or 2 decimal places (declared decimal128(12, 2))` }])
  }
  await tooPrecise('1.234', '1.234')
  await tooPrecise(1e12, '1000000000000')
  await tooPrecise(' -12345678901.5 ', '-12345678901.5')
  await refused({ price: 'abc' }, 'line 1: field "price": expected decimal128(12, 2), got "abc"')
  await refused({ tod: '24:00:00' }, 'line 1: field "tod": expected time64[us], got "24:00:00"')
  await refused({ wait: 1.5 }, 'line 1: field "wait": expected duration[ms], got 1.5')
  await refused({ uuid: 'AAEC' }, 'line 1: field "uuid": expected fixed_size_binary[4], got "AAEC"')
  await refused({ vec: [1] }, 'line 1: field "vec": expected fixed_size_list<item: float>[2], got array')
  await refused({ codes: { 1: 'x' } }, 'line 1: field "codes.key": expected int32, got "1"')
})
