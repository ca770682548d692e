import t from 'tap'
import { startGateway, type Gateway } from '../helpers/gateway.ts'

// The startup banner's tokens (valid 7 days) are minted tokens like any other: recorded in storage,
// so DELETE /v1/admin/tokens/{jti} revokes them. Before, it answered 404 for their jti.
const jtiOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { jti: string }).jti

async function call (gw: Gateway, method: string, path: string, token: string): Promise<{ status: number, body: unknown }> {
  const res = await fetch(`${gw.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text) }
}

t.test('the banner\'s tokens can be revoked', async (t) => {
  const gw = await startGateway(t)
  const out = gw.stdout()
  const printed = (name: string) => new RegExp(`^export ${name}=(\\S+)$`, 'm').exec(out)?.[1] ?? ''
  const admin = printed('ADMIN')
  const writer = printed('WRITER')
  const reader = printed('READER')
  const link = /\/console#token=(\S+)$/m.exec(out)?.[1] ?? ''
  t.ok(admin && writer && reader && link, 'the banner printed its tokens')
  t.match(out, /revoke any with DELETE \/v1\/admin\/tokens\/\{jti\}/)

  for (const token of [writer, link]) {
    t.equal((await call(gw, 'GET', '/v1/whoami', token)).status, 200)
    t.same(await call(gw, 'DELETE', `/v1/admin/tokens/${jtiOf(token)}`, admin), { status: 204, body: null })
    t.equal((await call(gw, 'GET', '/v1/whoami', token)).status, 401, 'refused once revoked')
  }
  t.equal((await call(gw, 'GET', '/v1/whoami', reader)).status, 200, 'the others are untouched')
  // The admin token revokes itself too.
  t.same(await call(gw, 'DELETE', `/v1/admin/tokens/${jtiOf(admin)}`, admin), { status: 204, body: null })
  t.equal((await call(gw, 'GET', '/v1/whoami', admin)).status, 401)
})
