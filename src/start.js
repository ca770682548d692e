#!/usr/bin/env node
// `npm start`: the compiled server (dist/, built by `npm ci` through the `prepare` script) when it
// is at least as new as every source file — it starts in about half the time — else the
// TypeScript sources through tsx, so an edited checkout never runs stale code.
import { readdirSync, statSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { extname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SOURCES = ['src', 'plugins', 'routes', 'config']
const KINDS = new Set(['.ts', '.js', '.html', '.css', '.json'])

function newest (dir) {
  let max = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) max = Math.max(max, newest(p))
    else if (KINDS.has(extname(e.name))) max = Math.max(max, statSync(p).mtimeMs)
  }
  return max
}

const dist = join(ROOT, 'dist', 'src', 'server.js')
let built = 0
try { built = statSync(dist).mtimeMs } catch {}
const stale = built === 0 || SOURCES.some((d) => newest(join(ROOT, d)) > built)

if (!stale) {
  // A first start generates the local provider's RSA key (0.3–0.5 s of CPU) on the thread pool:
  // begin it before the server's modules load so the two overlap. Configuration errors are
  // reported by main(), which reads the configuration again and joins this key generation.
  try {
    const [{ loadConfig, splitList }, { prepareLocalKeys }] = await Promise.all([
      import(pathToFileURL(join(ROOT, 'dist', 'config', 'load.js')).href),
      import(pathToFileURL(join(ROOT, 'dist', 'src', 'auth', 'local-keys.js')).href)
    ])
    const config = loadConfig()
    if (splitList(config.AUTH_PROVIDERS).includes('local')) prepareLocalKeys(config.DATA_DIR)
  } catch {}
  const { main } = await import(pathToFileURL(dist).href)
  main().catch((err) => {
    process.stderr.write(`quiver: failed to start: ${err.message}\n`)
    process.exit(1)
  })
} else {
  process.stderr.write(`quiver: ${built === 0 ? 'no build in dist/' : 'sources changed since the last build'}: running the TypeScript sources (npm run build for the faster start)\n`)
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'server.ts')], { stdio: 'inherit' })
  // The server shuts down gracefully on these: pass them on and leave with its exit code.
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)))
}
