import t from 'tap'
import { request } from 'undici'
import { startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'

// From outside the process: undici sends the path exactly as written (no normalisation), so the
// gateway sees the percent-encoded spelling a hostile client would use.
t.test('the rate limit counts every spelling of a /v1 route as that route', async (t) => {
  const gw = await startGateway(t, { RATE_LIMIT_MAX: '5' })
  const token = localToken(gw.dataDir, ['read'], { subject: 'spender' })
  const headers = { authorization: `Bearer ${token}` }
  const paths = ['/v1/topics', '/%761/topics', '/v%31/topics', '/%76%31/%74opics', '/v1/topics']
  for (const path of paths) {
    const res = await request(`${gw.url}${path}`, { headers })
    t.equal(res.statusCode, 200, `${path} is routed and counted`)
    await res.body.dump()
  }
  for (const path of ['/v1/topics', '/%761/topics', '/v1/%74opics']) {
    const res = await request(`${gw.url}${path}`, { headers })
    t.equal(res.statusCode, 429, `${path} over the limit`)
    const body = await res.body.json() as { code: string }
    t.equal(body.code, 'QUIVER_RATE_LIMITED')
  }
  // Not API traffic: never limited.
  const health = await request(`${gw.url}/healthz`)
  t.equal(health.statusCode, 200)
  await health.body.dump()
})
