import t from 'tap'
import FakeTimers from '@sinonjs/fake-timers'
import { objectKey, partitionOf, newObjectId, decodeTime } from '../src/keys.ts'

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/

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
  for (const id of ids.slice(0, 50)) t.match(id, ULID)
  t.equal(new Set(ids).size, ids.length, 'unique')
  t.same([...ids].sort(), ids, 'generation order is lexicographic order')
  const ts = decodeTime(ids[0])
  t.ok(ts >= before && ts <= after, 'decodes the ms timestamp')
})

t.test('monotonic within a ms and when the clock steps back; a later ms sorts after', async (t) => {
  const clock = FakeTimers.install({ now: Date.now() + 3_600_000, toFake: ['Date'] })
  t.teardown(() => clock.uninstall())
  const start = Date.now()
  const ids = [newObjectId(), newObjectId()]
  clock.setSystemTime(start - 1000)
  ids.push(newObjectId())
  clock.setSystemTime(start + 1)
  ids.push(newObjectId())
  t.same([...ids].sort(), ids, 'strictly increasing')
  t.equal(new Set(ids).size, ids.length)
  t.same(ids.map(decodeTime), [start, start, start, start + 1], 'clock went back: the last time is kept')
  t.equal(ids[1].slice(0, 10), ids[0].slice(0, 10), 'same ms: same time prefix')
})
