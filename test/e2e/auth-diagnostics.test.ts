import t from 'tap'
import { LOCAL_ISSUER } from '../../src/auth/local-keys.ts'
import { createPool, startCognitoLocal } from '../helpers/cognito-local.ts'
import { startGateway } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'

/**
 * What an operator sees when a token comes from the wrong pool: the startup line names
 * every active provider with its issuer and audiences, and the debug reason `unknown_issuer`
 * names the token's issuer beside the expected ones. The caller still gets the opaque 401
 * (a 401 says nothing beyond invalid_token: an attacker learns nothing about the setup), and no token is ever logged.
 */
const cl = await startCognitoLocal(t)
const mine = await createPool(cl, { ana: ['quiver-writers'] })
const other = await createPool(cl, { ben: ['quiver-writers'] })

interface LogLine { level: number, msg: string, [k: string]: unknown }
const lines = (out: string): LogLine[] => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine)

t.test('startup names providers, issuers and audiences; a wrong pool\'s debug reason names both issuers', async (t) => {
  const gw = await startGateway(t, {
    AUTH_PROVIDERS: 'cognito,local',
    COGNITO_USER_POOL_ID: mine.poolId,
    COGNITO_ENDPOINT: cl.endpoint,
    COGNITO_AUDIENCE: mine.clientId,
    WRITE_GROUPS: 'quiver-writers',
    LOG_LEVEL: 'debug'
  }, { timeoutMs: 120_000 })
  const startup = lines(gw.stdout()).find((l) => l.msg.startsWith('auth: active providers'))
  t.same(startup && { msg: startup.msg, providers: startup.providers, level: startup.level }, {
    msg: `auth: active providers cognito (issuer ${mine.issuer}, audiences ${mine.clientId}); local (issuer ${LOCAL_ISSUER}, audiences any)`,
    providers: [{ name: 'cognito', issuer: mine.issuer, audiences: [mine.clientId] }, { name: 'local', issuer: LOCAL_ISSUER, audiences: [] }],
    level: 30
  }, 'one info line at startup')

  const good = await mine.login('ana')
  const ok = await fetch(`${gw.url}/v1/whoami`, { headers: { authorization: `Bearer ${good.accessToken}` } })
  t.equal(ok.status, 200, 'the configured pool\'s token works')

  const wrong = await other.login('ben')
  const res = await fetch(`${gw.url}/v1/whoami`, { headers: { authorization: `Bearer ${wrong.accessToken}` } })
  t.equal(res.status, 401)
  t.equal(res.headers.get('www-authenticate'), 'Bearer error="invalid_token"')
  t.same(await res.json(), { statusCode: 401, code: 'QUIVER_UNAUTHORIZED', error: 'Unauthorized', message: 'Missing or invalid bearer token' }, 'the body says nothing about issuers')

  const rejected = (): LogLine | undefined => lines(gw.stdout()).find((l) => l.auth === 'rejected')
  await waitFor(() => rejected() !== undefined, 'the debug line of the rejection')
  t.same({ reason: rejected()!.reason, detail: rejected()!.detail, level: rejected()!.level }, {
    reason: 'unknown_issuer',
    detail: `unknown_issuer: token iss "${other.issuer}", expected ${mine.issuer} or ${LOCAL_ISSUER}`,
    level: 20
  })
  for (const token of [good.accessToken, wrong.accessToken]) {
    t.notOk(gw.stdout().includes(token.split('.')[2]) || gw.stderr().includes(token.split('.')[2]), 'no token signature in the logs')
  }
})
