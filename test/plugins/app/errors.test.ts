import { test } from 'tap'
import { buildApp } from '../../helpers/app.ts'
import { localToken } from '../../helpers/local-auth.ts'

/** `quiver_http_errors_total` by code, read from the real /metrics text. */
async function errorCounts (app: Awaited<ReturnType<typeof buildApp>>['app']): Promise<Record<string, number>> {
  const text = (await app.inject({ url: '/metrics' })).body
  const counts: Record<string, number> = {}
  for (const m of text.matchAll(/^quiver_http_errors_total\{code="([A-Z_]+)"\} (\d+)$/gm)) counts[m[1]] = Number(m[2])
  return counts
}

test('error answers are counted by the code the error handler decided', async (t) => {
  const { app, dataDir } = await buildApp(t)
  t.same(await errorCounts(app), {}, 'nothing counted before any error')

  const anonymous = await app.inject({ url: '/v1/topics' })
  t.same(anonymous.json(), { statusCode: 401, code: 'QUIVER_UNAUTHORIZED', error: 'Unauthorized', message: 'Missing or invalid bearer token' })
  const reader = localToken(dataDir, ['read'])
  const forbidden = await app.inject({ method: 'POST', url: '/v1/admin/flush', headers: { authorization: `Bearer ${reader}` } })
  t.same(forbidden.json(), { statusCode: 403, code: 'QUIVER_FORBIDDEN', error: 'Forbidden', message: 'This operation needs the admin role' })
  const missing = await app.inject({ url: '/nowhere' })
  t.same(missing.json(), { statusCode: 404, code: 'QUIVER_NOT_FOUND', error: 'Not Found', message: 'Route GET /nowhere not found' })
  const unknownTopic = await app.inject({ url: '/v1/topics/ghost', headers: { authorization: `Bearer ${reader}` } })
  t.same(unknownTopic.json(), { statusCode: 404, code: 'QUIVER_TOPIC_NOT_FOUND', error: 'Not Found', message: 'Topic "ghost" does not exist' })
  await app.inject({ url: '/v1/topics' })

  t.same(await errorCounts(app), { QUIVER_UNAUTHORIZED: 2, QUIVER_FORBIDDEN: 1, QUIVER_NOT_FOUND: 1, QUIVER_TOPIC_NOT_FOUND: 1 })
  const ok = await app.inject({ url: '/v1/topics', headers: { authorization: `Bearer ${reader}` } })
  t.equal(ok.statusCode, 200)
  t.same(await errorCounts(app), { QUIVER_UNAUTHORIZED: 2, QUIVER_FORBIDDEN: 1, QUIVER_NOT_FOUND: 1, QUIVER_TOPIC_NOT_FOUND: 1 }, 'a success counts nothing')
})

test('a bad topic name in a path is QUIVER_INVALID_TOPIC_NAME on every route, as in POST /v1/topics', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  const body = { statusCode: 400, code: 'QUIVER_INVALID_TOPIC_NAME', error: 'Bad Request', message: 'Invalid topic name "Bad-Name": expected ^[a-z][a-z0-9_]{0,62}$' }
  for (const [method, path] of [['GET', ''], ['DELETE', ''], ['GET', '/files'], ['GET', '/records'], ['POST', '/records'], ['GET', '/stream'], ['GET', '/tail']] as const) {
    const res = await app.inject({ method, url: `/v1/topics/Bad-Name${path}`, headers: { authorization: `Bearer ${admin}`, ...(method === 'POST' ? { 'content-type': 'application/x-ndjson' } : {}) }, ...(method === 'POST' ? { payload: '{}\n' } : {}) })
    t.same(res.json(), body, `${method} ${path || '/'}`)
  }
  const other = await app.inject({ url: '/v1/topics/orders/records?limit=0', headers: { authorization: `Bearer ${admin}` } })
  t.equal(other.json().code, 'QUIVER_VALIDATION', 'other validation failures keep their code')
})
