import { test } from 'tap'
import Fastify from 'fastify'
import { buildApp } from '../../helpers/app.ts'
import { localToken } from '../../helpers/local-auth.ts'
import authHooks from '../../../routes/v1/autohooks.ts'

// Every /v1 route with the role its config declares; `any` is any valid token.
const ROUTES = [
  ['GET', '/v1/whoami', 'any'],
  ['POST', '/v1/topics', 'admin'],
  ['GET', '/v1/topics', 'read'],
  ['GET', '/v1/topics/orders', 'read'],
  ['DELETE', '/v1/topics/orders', 'admin'],
  ['POST', '/v1/topics/orders/records', 'write'],
  ['GET', '/v1/topics/orders/records', 'read'],
  ['GET', '/v1/topics/orders/files', 'read'],
  ['GET', '/v1/topics/orders/stream', 'write'],
  ['GET', '/v1/topics/orders/tail', 'read'],
  ['POST', '/v1/admin/flush', 'admin'],
  ['GET', '/v1/admin/stats', 'admin'],
  ['POST', '/v1/admin/tokens', 'admin'],
  ['DELETE', '/v1/admin/tokens/0123456789abcdef', 'admin']
] as const

const BELOW = { read: null, write: 'read', admin: 'write', any: null } as const

test('every /v1 route authenticates, and refuses the role below the one its config names', async (t) => {
  const { app, dataDir } = await buildApp(t)
  for (const [method, url, role] of ROUTES) {
    const anonymous = await app.inject({ method, url })
    t.same(anonymous.json(), { statusCode: 401, code: 'QUIVER_UNAUTHORIZED', error: 'Unauthorized', message: 'Missing or invalid bearer token' }, `${method} ${url} anonymous`)
    const below = BELOW[role]
    if (below === null) continue
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${localToken(dataDir, [below])}` } })
    t.same(res.json(), { statusCode: 403, code: 'QUIVER_FORBIDDEN', error: 'Forbidden', message: `This operation needs the ${role} role` }, `${method} ${url} with ${below}`)
  }
  const whoami = await app.inject({ url: '/v1/whoami', headers: { authorization: `Bearer ${localToken(dataDir, ['read'])}` } })
  t.equal(whoami.statusCode, 200, 'any valid token passes a route declaring role any')
})

test('a route under /v1 without config.role fails the start (nothing is open by omission)', async (t) => {
  const app = Fastify({ logger: false })
  app.decorate('authenticate', () => {})
  app.decorate('requireRole', () => () => {})
  await t.rejects(async () => {
    await app.register(async (v1) => {
      await v1.register(authHooks)
      v1.get('/open', async () => 'oops')
    })
    await app.ready()
  }, { message: 'GET /open: routes under /v1 declare config.role (read, write, admin or any)' })
})
