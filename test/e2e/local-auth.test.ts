import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { startGateway } from '../helpers/gateway.ts'

const run = promisify(execFile)

t.test('npm start equivalent: the banner prints working tokens and a curl line', async (t) => {
  const gw = await startGateway(t, {}, { timeoutMs: 120_000 })
  const out = gw.stdout()
  const token = (name: string) => new RegExp(`QUIVER_${name}_TOKEN=(\\S+)`).exec(out)?.[1]
  const tokens = { admin: token('ADMIN'), write: token('WRITER'), read: token('READER') }
  t.ok(tokens.admin && tokens.write && tokens.read, 'three tokens printed')
  const curlLine = /curl -H "Authorization: Bearer (\S+)" (http:\/\/\S+)\/v1\/whoami/.exec(out)
  t.ok(curlLine, 'curl line printed')
  t.equal(curlLine![1], tokens.admin)
  t.equal(curlLine![2], gw.url)

  const expect = {
    admin: { sub: 'local-admin', roles: ['read', 'write', 'admin'] },
    write: { sub: 'local-writer', roles: ['read', 'write'] },
    read: { sub: 'local-reader', roles: ['read'] }
  }
  for (const [role, want] of Object.entries(expect)) {
    const { stdout } = await run('curl', ['-s', '-H', `Authorization: Bearer ${tokens[role as keyof typeof tokens]}`, `${gw.url}/v1/whoami`])
    t.same(JSON.parse(stdout), { sub: want.sub, username: want.sub, tokenUse: 'local', groups: [], scopes: want.roles.map((r) => `boilstream:${r}`), roles: want.roles }, role)
  }
  const { stdout } = await run('curl', ['-s', '-D', '-', `${gw.url}/v1/whoami`])
  t.match(stdout, /^HTTP\/1\.1 401/)
  t.match(stdout, /www-authenticate: Bearer error="invalid_token"/i)
  t.notMatch(out, /"level":\d+[^\n]*eyJ/, 'no token in any log line')
})
