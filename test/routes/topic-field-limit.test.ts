import { test } from 'tap'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'

/*
 * POST /v1/topics counts a schema's fields against MAX_SCHEMA_FIELDS at every nesting level and
 * answers 400 QUIVER_INVALID_SCHEMA beyond it (README, Security limits). The route's body schema
 * once held a fixed `maxItems: 10000`: 10,001 top-level fields got QUIVER_VALIDATION whatever the
 * variable said, while a struct of 10,001 children passed it.
 */

const columns = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `c${i}`, type: 'int32', nullable: true }))
const struct = (children: number) => `struct<${Array.from({ length: children }, (_, i) => `s${i}: int32`).join(', ')}>`
const invalid = (message: string) => ({ statusCode: 400, code: 'QUIVER_INVALID_SCHEMA', error: 'Bad Request', message: `Invalid schema: ${message}` })

async function setup (t: Parameters<typeof buildApp>[0], env: Record<string, string>) {
  const { app, dataDir } = await buildApp(t, env)
  const admin = localToken(dataDir, ['admin'])
  const call = async (method: 'GET' | 'POST', url: string, payload?: object) => {
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${admin}` }, ...(payload === undefined ? {} : { payload }) })
    return { status: res.statusCode, body: res.json() }
  }
  const create = (name: string, fields: unknown[]) => call('POST', '/v1/topics', { name, schema: { fields } })
  const fieldsOf = async (name: string) => {
    const got = await call('GET', `/v1/topics/${name}`)
    return got.status === 200 ? got.body.schema.fields.length : got.body
  }
  return { create, fieldsOf }
}

const notFound = (name: string) => ({ statusCode: 404, code: 'QUIVER_TOPIC_NOT_FOUND', error: 'Not Found', message: `Topic "${name}" does not exist` })

test('MAX_SCHEMA_FIELDS=20000: 10,001 top-level fields are created; past 20,000 at any depth, 400 QUIVER_INVALID_SCHEMA', async (t) => {
  const { create, fieldsOf } = await setup(t, { MAX_SCHEMA_FIELDS: '20000' })
  const wide = await create('wide', columns(10_001))
  t.equal(wide.status, 201, JSON.stringify(wide.body.message ?? 'created'))
  t.equal(await fieldsOf('wide'), 10_001)
  t.equal((await create('widest', columns(20_000))).status, 201)
  t.same(await create('too_wide', columns(20_001)), { status: 400, body: invalid('the schema has 20001 fields; a topic holds at most 20000') })
  t.same(await fieldsOf('too_wide'), notFound('too_wide'))
  // a struct's children count too: 1 + 19,999 fits, 1 + 20,000 does not
  t.equal((await create('nested', [{ name: 's', type: struct(19_999), nullable: true }])).status, 201)
  const type = struct(20_000)
  const at = type.indexOf(' s19999:') // the position before the space that precedes the 20,000th child
  t.same(await create('too_nested', [{ name: 's', type, nullable: true }]), {
    status: 400,
    body: invalid(`field "s": the schema has more than 20000 fields counted at every nesting level (MAX_SCHEMA_FIELDS) at position ${at} in "${type.slice(0, 200)}…"`)
  })
  t.same(await fieldsOf('too_nested'), notFound('too_nested'))
})

test('default MAX_SCHEMA_FIELDS (10000): 10,001 top-level fields are 400 QUIVER_INVALID_SCHEMA, not a body-validation error', async (t) => {
  const { create, fieldsOf } = await setup(t, {})
  t.equal((await create('ten_k', columns(10_000))).status, 201)
  t.same(await create('over', columns(10_001)), { status: 400, body: invalid('the schema has 10001 fields; a topic holds at most 10000') })
  t.same(await fieldsOf('over'), notFound('over'))
})
