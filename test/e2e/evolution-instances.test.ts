import t, { type Test } from 'tap'
import { startGateway } from '../helpers/gateway.ts'
import { startS3rver } from '../helpers/s3rver.ts'
import { makeIpcStream } from '../helpers/arrow.ts'
import { waitFor } from '../helpers/wait.ts'
import { preparedDataDir } from '../reliability/lib/tokens.ts'
import type { FieldSpec } from '../../src/schema/topic-schema.ts'

/* Two real gateway processes on one storage evolve one topic at once (schema evolution). */

const F = (name: string, type: string, nullable = true): FieldSpec => ({ name, type, nullable })
const V1 = [F('id', 'int64', false)]

async function race (t: Test, env: Record<string, string>, dataDir: string, token: (roles: Array<'admin' | 'write' | 'read'>) => string) {
  const [a, b] = await Promise.all([startGateway(t, { ...env, DATA_DIR: dataDir }, { timeoutMs: 120_000 }), startGateway(t, { ...env, DATA_DIR: dataDir }, { timeoutMs: 120_000 })])
  const call = (url: string, method: string, path: string, body: unknown, role: 'admin' | 'write' | 'read', type = 'application/json') =>
    fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token([role])}`, 'content-type': type }, body: body === undefined ? undefined : body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body) })
  t.equal((await call(a.url, 'POST', '/v1/topics', { name: 'race', schema: { fields: V1 } }, 'admin')).status, 201)
  // the admins read the topic first, as one does before a PATCH, and name the version they read
  // (baseVersion): each PATCH is judged against it, whatever the streams and the other gateway
  // add meanwhile (without it, a gateway that had just evolved the topic for its own stream would
  // count that stream's field as removed by a body that never saw it)
  const read = await call(b.url, 'GET', '/v1/topics/race', undefined, 'read')
  t.equal(read.status, 200)
  const baseVersion = ((await read.json()) as { schemaVersion: number }).schemaVersion
  t.equal(baseVersion, 1)
  // at once: each gateway gets a stream adding its own field and a PATCH adding another
  const changes = [
    call(a.url, 'POST', '/v1/topics/race/records', makeIpcStream([{ id: 1, sa: 'a' }], [...V1, F('sa', 'string')]), 'write', 'application/vnd.apache.arrow.stream'),
    call(b.url, 'POST', '/v1/topics/race/records', makeIpcStream([{ id: 2, sb: 'b' }], [...V1, F('sb', 'string')]), 'write', 'application/vnd.apache.arrow.stream'),
    call(a.url, 'PATCH', '/v1/topics/race', { schema: { fields: [...V1, F('pa', 'double')] }, baseVersion }, 'admin'),
    call(b.url, 'PATCH', '/v1/topics/race', { schema: { fields: [...V1, F('pb', 'double')] }, baseVersion }, 'admin')
  ]
  const statuses = (await Promise.all(changes)).map((r) => r.status)
  t.same(statuses, [200, 200, 200, 200], 'every change accepted')
  const shown = async (url: string) => (await (await call(url, 'GET', '/v1/topics/race', undefined, 'read')).json()) as { schemaVersion: number, schema: { fields: FieldSpec[] } }
  // both instances converge (their catalog caches hold a version for at most 2 s)
  let both: Array<Awaited<ReturnType<typeof shown>>> = []
  await waitFor(async () => {
    both = await Promise.all([shown(a.url), shown(b.url)])
    return both.every((s) => s.schemaVersion === 5)
  }, 'both instances at version 5', { timeoutMs: 20_000, everyMs: 100 })
  const [sa, sb] = both
  t.same({ v: sa.schemaVersion, s: sa.schema }, { v: sb.schemaVersion, s: sb.schema }, 'one consistent version on both instances')
  t.same(sa.schema.fields.map((f) => f.name).sort(), ['id', 'pa', 'pb', 'sa', 'sb'], 'no field lost')
  const rows = await (await fetch(`${a.url}/v1/topics/race/records`, { headers: { authorization: `Bearer ${token(['read'])}`, accept: 'application/x-ndjson' } })).text()
  const got = rows.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).map(({ __ingested_at: _, ...r }) => r).sort((x, y) => Number(x.id) - Number(y.id))
  t.same(got.map((r) => [r.id, r.sa, r.sb]), [[1, 'a', null], [2, null, 'b']], 'both streams\' rows read back in the final schema')
}

t.test('two gateways on one local directory', async (t) => {
  const { dataDir, token } = preparedDataDir(t)
  await race(t, { FLUSH_INTERVAL_MS: '50' }, dataDir, token)
})

t.test('two gateways on one s3rver bucket (If-None-Match ignored: the claims decide)', async (t) => {
  const s3 = await startS3rver(t)
  const { dataDir, token } = preparedDataDir(t)
  await race(t, { ...s3.env, FLUSH_INTERVAL_MS: '50' }, dataDir, token)
})
