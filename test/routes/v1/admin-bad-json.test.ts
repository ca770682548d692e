import t from 'tap'
import { buildApp } from '../../helpers/app.ts'
import { localToken } from '../../helpers/local-auth.ts'

interface Operation { responses: Record<string, { content?: Record<string, { schema: { properties?: Record<string, unknown> } }> }> }

// POST /v1/admin/flush answered a malformed JSON body with 400 QUIVER_INVALID_JSON, a status its
// OpenAPI operation did not declare. Every operation that can be sent a body is probed here: the
// answer to `{bad` must be a status the served document declares for it, with the error schema.
const { app, dataDir } = await buildApp(t)
const admin = localToken(dataDir, ['admin'])
const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, Operation>> }

t.test('POST /v1/admin/flush declares the 400 it answers to a malformed JSON body', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/v1/admin/flush', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, payload: '{bad' })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { statusCode: 400, code: 'QUIVER_INVALID_JSON', error: 'Bad Request', message: String })
  const declared = doc.paths['/v1/admin/flush'].post.responses['400']
  t.ok(declared, '400 declared')
  t.same(Object.keys(declared.content!['application/json'].schema.properties!), ['statusCode', 'code', 'error', 'message'])
})

t.test('every admin operation answers a malformed JSON body with a status it declares', async (t) => {
  for (const [path, ops] of Object.entries(doc.paths).filter(([p]) => p.startsWith('/v1/admin/'))) {
    for (const [method, op] of Object.entries(ops)) {
      const url = path.replace('{jti}', 'no-such-jti')
      const res = await app.inject({ method: method.toUpperCase() as 'POST', url, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, payload: '{bad' })
      t.ok(String(res.statusCode) in op.responses, `${method.toUpperCase()} ${path} → ${res.statusCode} declared (${Object.keys(op.responses).join(',')})`)
      if (res.statusCode >= 400) t.match(res.json(), { statusCode: res.statusCode, code: /^QUIVER_/ }, `${method.toUpperCase()} ${path}: error body`)
    }
  }
})
