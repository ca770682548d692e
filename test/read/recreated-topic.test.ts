import t from 'tap'
import { tableFromIPC } from 'apache-arrow'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { ofTopic } from '../../src/read/committed.ts'
import { ulid } from 'ulidx'

/*
 * DELETE /v1/topics/{topic} keeps the topic's objects (CONTRACT §5). A topic created again under
 * the name is another topic: its reads, files and stats never take the earlier one's objects for
 * its own. Found from outside: re-created with other types, its Arrow read showed old int64 ids as
 * "" and old strings as doubles (3.25e-317), its NDJSON read answered 500, its stats counted them.
 */
t.test('a topic deleted and created again with other types reads, lists and counts only its own rows', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  const writer = localToken(dataDir, ['write'])
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, o: { token?: string, payload?: unknown, headers?: Record<string, string> } = {}) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${o.token ?? admin}`, ...o.headers }, ...(o.payload === undefined ? {} : { payload: o.payload as string }) })
  const create = (fields: unknown[]) => call('POST', '/v1/topics', { payload: JSON.stringify({ name: 'again', schema: { fields } }), headers: { 'content-type': 'application/json' } })
  const write = (lines: string) => call('POST', '/v1/topics/again/records', { token: writer, payload: lines, headers: { 'content-type': 'application/x-ndjson' } })

  t.equal((await create([{ name: 'id', type: 'int64', nullable: false }, { name: 'v', type: 'string', nullable: true }])).statusCode, 201)
  t.equal((await write('{"id":1,"v":"first"}\n{"id":2,"v":"second"}\n')).statusCode, 200)
  t.equal((await call('DELETE', '/v1/topics/again')).statusCode, 204)
  t.equal((await create([{ name: 'id', type: 'string', nullable: false }, { name: 'v', type: 'double', nullable: true }])).statusCode, 201)
  t.equal((await write('{"id":"a","v":1.5}\n')).statusCode, 200)

  const ndjson = await call('GET', '/v1/topics/again/records', { headers: { accept: 'application/x-ndjson' } })
  t.equal(ndjson.statusCode, 200, ndjson.body)
  t.same(ndjson.body.trim().split('\n').map((l) => { const r = JSON.parse(l) as Record<string, unknown>; return [r.id, r.v] }), [['a', 1.5]])
  const arrow = await call('GET', '/v1/topics/again/records', { headers: { accept: 'application/vnd.apache.arrow.stream' } })
  const table = tableFromIPC(arrow.rawPayload)
  t.same(table.toArray().map((r) => [r.id, r.v]), [['a', 1.5]], 'Arrow: the new topic\'s row, nothing reinterpreted')
  const files = (await call('GET', '/v1/topics/again/files')).json() as { files: unknown[] }
  t.equal(files.files.length, 1, 'only its own object is listed')
  const detail = (await call('GET', '/v1/topics/again')).json() as { stats: { rows: number, files: number } }
  t.same([detail.stats.rows, detail.stats.files], [1, 1], 'stats count its own rows')
})

t.test('objects from before footers named the topic\'s creation are told apart by their ids\' time', async (t) => {
  const createdAt = '2026-12-03T10:00:00.000Z'
  const at = (ms: number) => `t/year=2026/month=12/day=03/hour=09/${ulid(ms)}.parquet`
  const file = (key: string, topicCreatedAt?: string) => ({ key, bytes: 1, rows: 1, createdAt, topicCreatedAt })
  t.notOk(ofTopic(file(at(Date.parse(createdAt) - 1)), createdAt), 'written before the topic was created: an earlier topic\'s')
  t.ok(ofTopic(file(at(Date.parse(createdAt))), createdAt))
  t.ok(ofTopic(file(at(Date.parse(createdAt) - 1), createdAt), createdAt), 'a footer that names the creation decides')
  t.notOk(ofTopic(file(at(Date.parse(createdAt) + 1), '2026-12-01T00:00:00.000Z'), createdAt))
})
