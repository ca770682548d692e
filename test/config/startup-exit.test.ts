import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { freePort } from '../helpers/gateway.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Starts the real server (`npm run dev`'s entry) with exactly `env`; resolves with how it ended. */
function start (env: Record<string, string>): Promise<{ code: number | null, stderr: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'quiver-exit-'))
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'server.ts')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', DATA_DIR: dataDir, ...env },
      timeout: 120_000
    }, (err, _stdout, stderr) => {
      rmSync(dataDir, { recursive: true, force: true })
      resolve({ code: err ? (err as { code?: number }).code ?? null : 0, stderr })
    })
  })
}

// Before: these exited 1 with Node's message (`getaddrinfo ENOTFOUND not..a..host`, `ENOENT … open
// '/nonexistent.pem'`), naming no variable, so a process manager would retry them forever.
t.test('a HOST that does not resolve is a configuration error naming HOST: exit 78', async (t) => {
  const { code, stderr } = await start({ PORT: String(await freePort()), HOST: 'not..a..host' })
  t.equal(code, 78)
  t.match(stderr, /^quiver: configuration error: HOST: not\.\.a\.\.host does not resolve to an address \(getaddrinfo ENOTFOUND not\.\.a\.\.host\)\n$/m)
})

t.test('missing TLS_CERT / TLS_KEY files are configuration errors naming the variable: exit 78', async (t) => {
  const port = String(await freePort())
  const cert = await start({ PORT: port, TLS_CERT: '/nonexistent.pem', TLS_KEY: '/nonexistent.key' })
  t.equal(cert.code, 78)
  t.match(cert.stderr, /^quiver: configuration error: TLS_CERT: cannot read \/nonexistent\.pem: ENOENT: no such file or directory\n$/m)
  const key = await start({ PORT: port, TLS_CERT: fileURLToPath(import.meta.url), TLS_KEY: '/nonexistent.key' })
  t.equal(key.code, 78)
  t.match(key.stderr, /^quiver: configuration error: TLS_KEY: cannot read \/nonexistent\.key: ENOENT: no such file or directory\n$/m)
})

t.test('a PORT in use is not bad configuration (it may free up): exit 1, naming PORT', async (t) => {
  const holder = createServer()
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => holder.close(resolve)))
  const port = (holder.address() as AddressInfo).port
  const { code, stderr } = await start({ PORT: String(port) })
  t.equal(code, 1)
  t.match(stderr, new RegExp(`^quiver: failed to start: PORT: ${port} is already in use on 127\\.0\\.0\\.1 \\(listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${port}\\)\\n$`, 'm'))
})
