import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { startGateway } from '../helpers/gateway.ts'

const run = promisify(execFile)

t.test('npm start equivalent: the banner prints working tokens and a curl line', async (t) => {
  const gw = await startGateway(t, {}, { timeoutMs: 120_000 })
  const out = gw.stdout()
  // The banner's shell lines, pasted as they are: `export ADMIN=…` (the README's commands use these names).
  const token = (name: string) => new RegExp(`^export ${name}=(\\S+)$`, 'm').exec(out)?.[1]
  const tokens = { admin: token('ADMIN'), write: token('WRITER'), read: token('READER') }
  t.ok(tokens.admin && tokens.write && tokens.read, 'three tokens printed')
  const curlLine = /curl -H "Authorization: Bearer \$ADMIN" (http:\/\/\S+)\/v1\/whoami/.exec(out)
  t.ok(curlLine, 'curl line printed, using the exported $ADMIN')
  t.equal(curlLine![1], gw.url)

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
