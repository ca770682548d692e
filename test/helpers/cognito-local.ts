import { spawn } from 'node:child_process'
import { createPrivateKey, sign as rsaSign } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { waitFor } from './wait.ts'
import {
  AdminAddUserToGroupCommand, AdminCreateUserCommand, AdminInitiateAuthCommand, AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient, CreateGroupCommand, CreateUserPoolClientCommand, CreateUserPoolCommand
} from '@aws-sdk/client-cognito-identity-provider'

const require = createRequire(import.meta.url)
const PKG_DIR = join(require.resolve('cognito-local/package.json'), '..')
const START = join(PKG_DIR, 'lib', 'bin', 'start.js')
/** cognito-local signs every token with this key (kid CognitoLocal); tests mint custom claims with it. */
export const COGNITO_LOCAL_KID = 'CognitoLocal'
const PRIVATE_KEY = createPrivateKey({ key: JSON.parse(readFileSync(join(PKG_DIR, 'lib', 'keys', 'cognitoLocal.private.json'), 'utf8')).jwk, format: 'jwk' })

type Teardown = { teardown: (fn: () => unknown) => void }

export interface CognitoLocal {
  endpoint: string
  client: CognitoIdentityProviderClient
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    }).on('error', reject)
  })
}

/** cognito-local in a child process on 127.0.0.1, state in a temp dir, issuer pinned to its own URL. */
export async function startCognitoLocal (t: Teardown): Promise<CognitoLocal> {
  const port = await freePort()
  const endpoint = `http://127.0.0.1:${port}`
  const cwd = mkdtempSync(join(tmpdir(), 'quiver-cognito-'))
  mkdirSync(join(cwd, '.cognito'))
  writeFileSync(join(cwd, '.cognito', 'config.json'), JSON.stringify({
    TokenConfig: { IssuerDomain: endpoint },
    UserPoolDefaults: { UsernameAttributes: [] }
  }))
  const proc = spawn(process.execPath, [START], { cwd, env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  proc.stdout.on('data', (d) => { output += d })
  proc.stderr.on('data', (d) => { output += d })
  t.teardown(async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGTERM')
      await new Promise((resolve) => proc.once('exit', resolve))
    }
    rmSync(cwd, { recursive: true, force: true })
  })
  // Its health check is the only sign that it listens.
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`cognito-local exited: ${output}`)
    return await fetch(`${endpoint}/health`).then((res) => res.ok, () => false)
  }, `cognito-local to start: ${output}`, { timeoutMs: 60_000, everyMs: 100 })
  // Its first key-set answer runs cold code: asked once here, so that a gateway's fixed 3 s
  // key-set timeout is not spent on it on a busy machine.
  await fetch(`${endpoint}/warm-up/.well-known/jwks.json`).then((res) => res.arrayBuffer())
  const client = new CognitoIdentityProviderClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } })
  t.teardown(() => client.destroy())
  return { endpoint, client }
}

export interface Pool {
  poolId: string
  issuer: string
  clientId: string
  otherClientId: string
  /** Access, id and refresh tokens of a user through AdminInitiateAuth ADMIN_USER_PASSWORD_AUTH. */
  login (username: string, clientId?: string): Promise<{ accessToken: string, idToken: string, refreshToken: string }>
}

export const PASSWORD = 'Quiver-Test-1!'

/** A pool with two app clients, the given groups, and users placed in them ({user: [groups]}). */
export async function createPool (cl: CognitoLocal, users: Record<string, string[]>): Promise<Pool> {
  const { client } = cl
  const pool = await client.send(new CreateUserPoolCommand({ PoolName: 'quiver-test' }))
  const poolId = pool.UserPool!.Id!
  const flows = ['ALLOW_ADMIN_USER_PASSWORD_AUTH', 'ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'] as const
  const app = await client.send(new CreateUserPoolClientCommand({ UserPoolId: poolId, ClientName: 'quiver', ExplicitAuthFlows: [...flows] }))
  const other = await client.send(new CreateUserPoolClientCommand({ UserPoolId: poolId, ClientName: 'other-app', ExplicitAuthFlows: [...flows] }))
  const groups = new Set(Object.values(users).flat())
  for (const g of groups) await client.send(new CreateGroupCommand({ UserPoolId: poolId, GroupName: g }))
  for (const [username, memberOf] of Object.entries(users)) {
    await client.send(new AdminCreateUserCommand({ UserPoolId: poolId, Username: username, TemporaryPassword: 'Temp-Pass-1!', MessageAction: 'SUPPRESS' }))
    await client.send(new AdminSetUserPasswordCommand({ UserPoolId: poolId, Username: username, Password: PASSWORD, Permanent: true }))
    for (const g of memberOf) await client.send(new AdminAddUserToGroupCommand({ UserPoolId: poolId, Username: username, GroupName: g }))
  }
  const clientId = app.UserPoolClient!.ClientId!
  return {
    poolId,
    issuer: `${cl.endpoint}/${poolId}`,
    clientId,
    otherClientId: other.UserPoolClient!.ClientId!,
    async login (username, withClient = clientId) {
      const res = await client.send(new AdminInitiateAuthCommand({
        UserPoolId: poolId, ClientId: withClient, AuthFlow: 'ADMIN_USER_PASSWORD_AUTH', AuthParameters: { USERNAME: username, PASSWORD }
      }))
      const r = res.AuthenticationResult!
      return { accessToken: r.AccessToken!, idToken: r.IdToken!, refreshToken: r.RefreshToken! }
    }
  }
}

function b64url (value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
}

/** A JWT with any header and claims, RS256-signed by cognito-local's key unless `key` says otherwise. */
export function mintToken (claims: Record<string, unknown>, header: Record<string, unknown> = {}, key = PRIVATE_KEY): string {
  const input = `${b64url({ alg: 'RS256', typ: 'JWT', kid: COGNITO_LOCAL_KID, ...header })}.${b64url(claims)}`
  return `${input}.${rsaSign('sha256', Buffer.from(input), key).toString('base64url')}`
}

/** Claims shaped like a Cognito access token of `issuer`, valid for ten minutes. */
export function accessClaims (issuer: string, clientId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return { sub: 'minted-user', iss: issuer, client_id: clientId, token_use: 'access', scope: 'aws.cognito.signin.user.admin', username: 'minted', iat: now, exp: now + 600, ...extra }
}
