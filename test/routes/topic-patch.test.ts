import { test } from 'tap'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import type { FieldSpec } from '../../src/schema/topic-schema.ts'

/* PATCH /v1/topics/{topic} (schema evolution) through the real app. */

async function setup (t: Parameters<typeof buildApp>[0], env: Record<string, string> = {}) {
  const built = await buildApp(t, env)
  const admin = localToken(built.dataDir, ['admin'])
  const writer = localToken(built.dataDir, ['write'])
  const call = async (method: 'GET' | 'POST' | 'PATCH', url: string, body?: object, token = admin) => {
    const res = await built.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body ? { payload: body } : {}) })
    return { status: res.statusCode, body: res.body === '' ? null : res.json() }
  }
  return { ...built, call, writer }
}

const F = (name: string, type: string, nullable = true): FieldSpec => ({ name, type, nullable })
const BASE = [F('id', 'int64', false), F('qty', 'int32'), F('name', 'string')]
const LAYOUT = { partitionBy: [], timePartition: { field: '__ingested_at', granularity: 'hour' } }

test('a compatible PATCH answers the topic at schemaVersion + 1; GET and the list show it', async (t) => {
  const { call } = await setup(t)
  const created = await call('POST', '/v1/topics', { name: 'orders', schema: { fields: BASE } })
  t.equal(created.status, 201)
  const { createdAt } = created.body

  const next = [F('id', 'int64', false), F('qty', 'int64'), F('name', 'string'), F('note', 'string'), F('amount', 'decimal128(12, 2)')]
  const patched = await call('PATCH', '/v1/topics/orders', { schema: { fields: next } })
  t.same(patched, {
    status: 200,
    body: { name: 'orders', schema: { fields: next }, createdAt, schemaVersion: 2, evolution: 'additive', evolvedAt: patched.body.evolvedAt, ...LAYOUT }
  })
  t.ok(Date.parse(patched.body.evolvedAt) >= Date.parse(createdAt))

  const got = await call('GET', '/v1/topics/orders')
  t.same(got.body, { ...patched.body, stats: { rows: 0, bytes: 0, files: 0, lastFlushAt: null } })
  t.match((await call('GET', '/v1/topics')).body, { topics: [{ name: 'orders', schemaVersion: 2, schema: { fields: next } }] })

  const same = await call('PATCH', '/v1/topics/orders', { schema: { fields: next } })
  t.same(same, patched, 'a PATCH that changes nothing answers the topic as it is (no new version)')
  const third = await call('PATCH', '/v1/topics/orders', { schema: { fields: [...next, F('extra', 'list<item: double>')] } })
  t.equal(third.body.schemaVersion, 3)
})

test('incompatible PATCH: 422 QUIVER_SCHEMA_INCOMPATIBLE naming each field and why; nothing changes', async (t) => {
  const { call, writer } = await setup(t)
  await call('POST', '/v1/topics', { name: 'orders', schema: { fields: BASE } })
  const refused = await call('PATCH', '/v1/topics/orders', { schema: { fields: [F('id', 'int32', false), F('name', 'string', false), F('must', 'string', false)] } })
  t.same(refused, {
    status: 422,
    body: {
      statusCode: 422,
      code: 'QUIVER_SCHEMA_INCOMPATIBLE',
      error: 'Unprocessable Entity',
      message: 'Schema change is not compatible: qty: removed (fields are never dropped; stored rows keep it); ' +
        'id: int64 cannot become int32 (only a lossless widening keeps every stored value); ' +
        'name: cannot become not null (stored rows may hold nulls); ' +
        'must: a new field must be nullable (the rows stored before have no value)'
    }
  })
  const narrowed = await call('PATCH', '/v1/topics/orders', { schema: { fields: [F('id', 'int64', false), F('qty', 'int16'), F('name', 'string')] } })
  t.same(narrowed.body, { statusCode: 422, code: 'QUIVER_SCHEMA_INCOMPATIBLE', error: 'Unprocessable Entity', message: 'Schema change is not compatible: qty: int32 cannot become int16 (only a lossless widening keeps every stored value)' })
  t.match((await call('GET', '/v1/topics/orders')).body, { schemaVersion: 1, schema: { fields: BASE } }, 'still version 1')

  const badType = await call('PATCH', '/v1/topics/orders', { schema: { fields: [...BASE, F('x', 'dubble')] } })
  t.equal(badType.status, 400)
  t.match(badType.body, { code: 'QUIVER_INVALID_SCHEMA', message: /^Invalid schema: field "x": unknown type "dubble"/ })
  t.same(await call('PATCH', '/v1/topics/nope', { schema: { fields: BASE } }), {
    status: 404, body: { statusCode: 404, code: 'QUIVER_TOPIC_NOT_FOUND', error: 'Not Found', message: 'Topic "nope" does not exist' }
  })
  t.same(await call('PATCH', '/v1/topics/orders', { schema: { fields: [...BASE, F('x', 'string')] } }, writer), {
    status: 403, body: { statusCode: 403, code: 'QUIVER_FORBIDDEN', error: 'Forbidden', message: 'This operation needs the admin role' }
  })
  const extraKey = await call('PATCH', '/v1/topics/orders', { schema: { fields: BASE }, name: 'other' })
  t.equal(extraKey.status, 400)
})

test('evolution at create: shown by GET; AUTO_EVOLVE_TOPICS=false is the default of topics that do not say', async (t) => {
  const { call } = await setup(t, { AUTO_EVOLVE_TOPICS: 'false' })
  await call('POST', '/v1/topics', { name: 'plain', schema: { fields: BASE } })
  const own = await call('POST', '/v1/topics', { name: 'open', schema: { fields: BASE }, evolution: 'additive' })
  t.same(own.body, { name: 'open', schema: { fields: BASE }, createdAt: own.body.createdAt, evolution: 'additive' })
  t.match((await call('GET', '/v1/topics/plain')).body, { evolution: 'none', schemaVersion: 1 })
  t.match((await call('GET', '/v1/topics/open')).body, { evolution: 'additive', schemaVersion: 1 })
  const bad = await call('POST', '/v1/topics', { name: 'x', schema: { fields: BASE }, evolution: 'anything' })
  t.equal(bad.status, 400)
  t.equal((await call('PATCH', '/v1/topics/plain', { schema: { fields: [...BASE, F('x', 'string')] } })).body.schemaVersion, 2, 'PATCH is the admin\'s: it works whatever the evolution setting')
})

test('baseVersion: fields added after it are kept, fields it had must be kept, an unknown version is 422', async (t) => {
  const { call } = await setup(t)
  await call('POST', '/v1/topics', { name: 'orders', schema: { fields: BASE } })
  // another admin adds `note` (version 2) while this one edits what it read at version 1
  t.equal((await call('PATCH', '/v1/topics/orders', { schema: { fields: [...BASE, F('note', 'string')] } })).body.schemaVersion, 2)
  const mine = await call('PATCH', '/v1/topics/orders', { schema: { fields: [...BASE, F('country', 'string')] }, baseVersion: 1 })
  t.equal(mine.status, 200)
  t.same({ v: mine.body.schemaVersion, fields: mine.body.schema.fields }, { v: 3, fields: [...BASE, F('note', 'string'), F('country', 'string')] }, 'note kept, country appended')
  // without baseVersion the same kind of body is judged against the version served: `note` and `country` removed
  const stale = await call('PATCH', '/v1/topics/orders', { schema: { fields: [...BASE, F('city', 'string')] } })
  t.same(stale.body, {
    statusCode: 422,
    code: 'QUIVER_SCHEMA_INCOMPATIBLE',
    error: 'Unprocessable Entity',
    message: 'Schema change is not compatible: note: removed (fields are never dropped; stored rows keep it); country: removed (fields are never dropped; stored rows keep it)'
  })
  // baseVersion does not license removing what that version had
  const dropped = await call('PATCH', '/v1/topics/orders', { schema: { fields: [F('id', 'int64', false), F('name', 'string')] }, baseVersion: 1 })
  t.same(dropped.body, {
    statusCode: 422,
    code: 'QUIVER_SCHEMA_INCOMPATIBLE',
    error: 'Unprocessable Entity',
    message: 'Schema change is not compatible: qty: removed (fields are never dropped; stored rows keep it)'
  })
  const unknown = await call('PATCH', '/v1/topics/orders', { schema: { fields: BASE }, baseVersion: 7 })
  t.same(unknown.body, {
    statusCode: 422,
    code: 'QUIVER_SCHEMA_INCOMPATIBLE',
    error: 'Unprocessable Entity',
    message: 'Schema change is not compatible: baseVersion 7: the topic\'s versions are 1 to 3'
  })
  t.equal((await call('PATCH', '/v1/topics/missing', { schema: { fields: BASE }, baseVersion: 1 })).status, 404)
  t.equal((await call('GET', '/v1/topics/orders')).body.schemaVersion, 3, 'the refusals changed nothing')
})
