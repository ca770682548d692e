import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { startS3rver } from '../helpers/s3rver.ts'
import { runCli } from './helpers/cli.ts'

// `quiver token` records what it mints in the gateway's storage, as POST /v1/admin/tokens does, so
// DELETE /v1/admin/tokens/{jti} revokes its tokens. Before, the CLI only signed: the DELETE answered
// 404 "No minted token has jti …" and a leaked CLI token stayed valid until it expired (a day by default).
const jtiOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { jti: string }).jti

async function call (gw: Gateway, method: string, path: string, token: string): Promise<{ status: number, body: unknown }> {
  const res = await fetch(`${gw.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text) }
}

const bannerAdmin = (gw: Gateway) => /^export ADMIN=(\S+)$/m.exec(gw.stdout())?.[1] ?? ''

t.test('a CLI token (local storage) is revoked by DELETE /v1/admin/tokens/{jti}', async (t) => {
  const gw = await startGateway(t)
  const admin = bannerAdmin(gw)
  const all = await runCli(['token', '--data-dir', gw.dataDir]).done
  t.equal(all.code, 0, all.stderr)
  const printed = (role: string) => new RegExp(`^QUIVER_${role}_TOKEN=(\\S+)$`, 'm').exec(all.stdout)?.[1] ?? ''
  const writer = printed('WRITE')
  t.match(all.stdout, new RegExp(`^# write \\(expires \\S+; revoke with DELETE /v1/admin/tokens/${jtiOf(writer)}\\)$`, 'm'), 'each token says how to revoke it')
  const one = await runCli(['token', '--data-dir', gw.dataDir, '--role', 'read']).done
  t.equal(one.code, 0, one.stderr)
  const reader = one.stdout.trim()
  t.match(reader, /^[\w-]+\.[\w-]+\.[\w-]+$/, '--role prints the bare token')

  for (const token of [writer, reader]) {
    t.equal((await call(gw, 'GET', '/v1/whoami', token)).status, 200)
    t.same(await call(gw, 'DELETE', `/v1/admin/tokens/${jtiOf(token)}`, admin), { status: 204, body: null })
    const refused = await call(gw, 'GET', '/v1/whoami', token)
    t.equal(refused.status, 401, 'refused once revoked')
  }
  t.equal((await call(gw, 'GET', '/v1/whoami', printed('ADMIN'))).status, 200, 'the others are untouched')
})

t.test('with S3_BUCKET the records go to the bucket the gateway reads (S3 settings read from .env too)', async (t) => {
  const s3 = await startS3rver(t)
  const gw = await startGateway(t, s3.env)
  const admin = bannerAdmin(gw)
  // The CLI run from a directory whose .env holds the S3 settings, as a user's project would.
  const cwd = mkdtempSync(join(tmpdir(), 'quiver-cli-env-'))
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }))
  // Credentials come from the SDK's own chain (the shell's exports), as for the gateway.
  const credentials = Object.fromEntries(Object.entries(s3.env).filter(([k]) => k.startsWith('AWS_') && k !== 'AWS_REGION'))
  writeFileSync(join(cwd, '.env'), Object.entries(s3.env).filter(([k]) => !(k in credentials)).map(([k, v]) => `${k}=${v}`).join('\n') + '\n')
  const run = await runCli(['token', '--data-dir', gw.dataDir, '--role', 'write'], credentials, { cwd }).done
  t.equal(run.code, 0, run.stderr)
  const writer = run.stdout.trim()
  t.ok((await s3.listKeys('_auth/tokens/')).some((k) => k.endsWith(`${jtiOf(writer)}.json`)), 'recorded in the bucket')
  t.equal((await call(gw, 'GET', '/v1/whoami', writer)).status, 200)
  t.same(await call(gw, 'DELETE', `/v1/admin/tokens/${jtiOf(writer)}`, admin), { status: 204, body: null })
  t.equal((await call(gw, 'GET', '/v1/whoami', writer)).status, 401)
})

t.test('storage that cannot be written: no token is printed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-cli-nos3-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const gw = await startGateway(t, { DATA_DIR: dir })
  gw.kill()
  await gw.exited
  // The key is there, but the storage named is an S3 endpoint nothing listens on.
  const run = await runCli(['token', '--data-dir', dir, '--role', 'write'], {
    S3_BUCKET: 'nowhere', S3_ENDPOINT: 'http://127.0.0.1:9', S3_FORCE_PATH_STYLE: 'true', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_REGION: 'us-east-1'
  }).done
  t.equal(run.code, 1)
  t.equal(run.stdout, '', 'nothing printed')
  t.match(run.stderr, /^quiver: the token could not be recorded in the gateway's storage, so it could not be revoked; none printed \(/m)
})
