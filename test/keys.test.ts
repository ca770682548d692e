import t from 'tap'
import { objectKey, partitionOf, newObjectId, createIdGenerator, decodeTime, encodeBase32, INSTANCE_ID } from '../src/keys.ts'

t.test('objectKey is the Hive layout in UTC', async (t) => {
  const d = new Date('2026-01-02T03:04:05.678Z')
  t.equal(objectKey('clicks', d, 'ID1'), 'clicks/year=2026/month=01/day=02/hour=03/ID1.parquet')
  t.same(partitionOf(d), { year: '2026', month: '01', day: '02', hour: '03' })
  // 23:30 at UTC-5 is already the next day in UTC
  t.equal(objectKey('t', new Date('2026-12-31T23:30:00-05:00'), 'x'), 't/year=2027/month=01/day=01/hour=04/x.parquet')
})

t.test('ids are 26 Crockford chars, time-decodable, sorted and unique', async (t) => {
  const before = Date.now()
  const ids = Array.from({ length: 10000 }, () => newObjectId())
  const after = Date.now()
  for (const id of ids.slice(0, 50)) t.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/)
  t.equal(new Set(ids).size, ids.length, 'unique')
  t.same([...ids].sort(), ids, 'generation order is lexicographic order')
  const ts = decodeTime(ids[0])
  t.ok(ts >= before && ts <= after, 'decodes the ms timestamp')
  t.ok(ids.every((id) => id.endsWith(INSTANCE_ID)), 'carries the instance id')
})

t.test('monotonic within a ms and when the clock steps back', async (t) => {
  const times = [1000, 1000, 1000, 999, 1001]
  let i = 0
  const next = createIdGenerator('AAAAAAAAAA', () => times[i++])
  const ids = times.map(() => next())
  t.same([...ids].sort(), ids)
  t.equal(new Set(ids).size, ids.length)
  t.equal(ids[0], encodeBase32(1000, 10) + '000000AAAAAAAAAA')
  t.equal(ids[3], encodeBase32(1000, 10) + '000003AAAAAAAAAA', 'clock went back: time kept, counter continues')
  t.equal(ids[4], encodeBase32(1001, 10) + '000000AAAAAAAAAA')
})

t.test('two instances in the same ms never collide and still sort by time', async (t) => {
  const a = createIdGenerator('AAAAAAAAAA', () => 5)
  const b = createIdGenerator('BBBBBBBBBB', () => 5)
  const c = createIdGenerator('CCCCCCCCCC', () => 6)
  const ids = [a(), b(), a(), b()]
  t.equal(new Set(ids).size, 4)
  t.ok(ids.every((id) => id < c()), 'a later ms sorts after')
  t.throws(() => encodeBase32(32, 1), RangeError)
  t.throws(() => decodeTime('!!!!!!!!!!'), RangeError)
})
