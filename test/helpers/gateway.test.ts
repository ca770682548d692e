import t from 'tap'
import { startGateway } from './gateway.ts'

t.test('gateway helper starts the real server and it exits 0 on SIGTERM', async (t) => {
  const gw = await startGateway(t)
  const res = await fetch(`${gw.url}/healthz`)
  t.same(await res.json(), { status: 'ok' })
  gw.kill('SIGTERM')
  t.equal(await gw.exited, 0)
})

t.test('bad configuration fails at startup naming the variable', async (t) => {
  await t.rejects(startGateway(t, { FLUSH_INTERVAL_MS: 'soon' }), /FLUSH_INTERVAL_MS/)
})
