import t from 'tap'
import { buildApp } from '../helpers/app.ts'

t.test('GET /healthz answers ok without a token', async (t) => {
  const { app } = await buildApp(t)
  const res = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
})

t.test('unknown routes answer the JSON error shape', async (t) => {
  const { app } = await buildApp(t)
  const res = await app.inject({ method: 'GET', url: '/nope?x=1' })
  t.equal(res.statusCode, 404)
  t.same(res.json(), { statusCode: 404, code: 'QUIVER_NOT_FOUND', error: 'Not Found', message: 'Route GET /nope not found' })
})
