import t, { type Test } from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import metrics from '../../plugins/external/metrics.ts'
import storage from '../../plugins/app/storage.ts'
import { loadConfig } from '../../config/load.ts'

/** The storage plugin on a bare instance, with a stand-in for the pipeline plugin that depends on it. */
async function build (t: Test, order: string[]) {
  const dataDir = t.testdir()
  const app = Fastify({ logger: false })
  app.decorate('config', loadConfig({ DATA_DIR: dataDir, ENCODER_THREADS: '1', LOG_LEVEL: 'silent' }, { dotenv: false }))
  await app.register(metrics)
  await app.register(storage)
  await app.register(fp(async (f) => {
    f.addHook('onClose', async () => {
      order.push('pipeline:flush-start')
      // The final flush still encodes and stores: both must be open here.
      const rec = { name: 'late', schema: { fields: [{ name: 'a', type: 'int64', nullable: true }] }, createdAt: '2026-01-01T00:00:00.000Z' }
      await f.catalog.create(rec)
      order.push('pipeline:flush-end')
    })
  }, { name: 'pipeline-standin', dependencies: ['storage'] }))
  await app.ready()
  return { app, dataDir }
}

t.test('decorates storage, catalog and encoder on DATA_DIR', async (t) => {
  const { app, dataDir } = await build(t, [])
  t.teardown(() => app.close())
  t.equal(app.storage.kind, 'fs')
  t.equal(app.storage.location, dataDir)
  t.equal(app.storage.healthy, true)
  t.equal(app.encoder.threads, 1)
  const rec = { name: 'plug', schema: { fields: [{ name: 'a', type: 'int64', nullable: true }] }, createdAt: '2026-01-01T00:00:00.000Z' }
  await app.catalog.create(rec)
  t.same(await app.catalog.get('plug'), { ...rec, schemaVersion: 1, evolution: 'additive' }, 'read back at version 1, AUTO_EVOLVE_TOPICS deciding its evolution')
  t.same(readdirSync(join(dataDir, '_catalog')), ['plug.json'])
})

t.test('on close a dependent plugin (the pipeline) flushes before the encoder and storage close', async (t) => {
  const order: string[] = []
  const { app, dataDir } = await build(t, order)
  const close = app.encoder.close.bind(app.encoder)
  app.encoder.close = async () => { order.push('encoder:close'); await close() }
  await app.close()
  t.same(order, ['pipeline:flush-start', 'pipeline:flush-end', 'encoder:close'])
  t.same(readdirSync(join(dataDir, '_catalog')), ['late.json'])
})
