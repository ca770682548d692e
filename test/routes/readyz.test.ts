import t from 'tap'
import { rmSync, writeFileSync } from 'node:fs'
import { buildApp } from '../helpers/app.ts'
import { startS3rver } from '../helpers/s3rver.ts'

t.test('ready on the local directory; 503 with a reason when it breaks; back when fixed', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const ok = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { status: 'ready', checks: { storage: 'ok', auth: 'ok' } })

  rmSync(dataDir, { recursive: true })
  writeFileSync(dataDir, 'not a dir')
  await new Promise((resolve) => setTimeout(resolve, 600)) // past the 500 ms cache
  const bad = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(bad.statusCode, 503)
  t.same(bad.json(), { status: 'unavailable', checks: { storage: 'storage_error', auth: 'ok' } })

  rmSync(dataDir)
  const { mkdirSync } = await import('node:fs')
  mkdirSync(dataDir)
  await new Promise((resolve) => setTimeout(resolve, 600))
  const back = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(back.statusCode, 200)
})

t.test('S3: ready against s3rver, 503 when the bucket is missing', async (t) => {
  const s3 = await startS3rver(t)
  // The SDK takes credentials from its default chain (the process environment), not from Config.
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER'
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER'
  const { app } = await buildApp(t, s3.env)
  const ok = await app.inject({ method: 'GET', url: '/readyz' })
  t.same([ok.statusCode, ok.json()], [200, { status: 'ready', checks: { storage: 'ok', auth: 'ok' } }])

  const { app: noBucket } = await buildApp(t, { ...s3.env, S3_BUCKET: 'missing-bucket' })
  const bad = await noBucket.inject({ method: 'GET', url: '/readyz' })
  t.equal(bad.statusCode, 503)
  t.same(bad.json(), { status: 'unavailable', checks: { storage: 'storage_not_found', auth: 'ok' } })

  const { app: down } = await buildApp(t, { ...s3.env, S3_ENDPOINT: 'http://127.0.0.1:1' })
  const res = await down.inject({ method: 'GET', url: '/readyz' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { status: 'unavailable', checks: { storage: 'storage_unreachable', auth: 'ok' } })
})

t.test('the OpenAPI document describes both answers', async (t) => {
  const { app } = await buildApp(t)
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  t.same(Object.keys(doc.paths['/readyz'].get.responses).sort(), ['200', '503'])
})
