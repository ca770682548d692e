#!/usr/bin/env node
// `npm start`: always the compiled server in dist/ (tsc's plain output, what the Docker image
// runs), never a second module graph. `npm ci` builds dist/ through the `prepare` script; when a
// source file is newer than the build (an edit, a `git pull`), this runs `npm run build` first,
// so an edited checkout never runs stale code. Checking costs a few milliseconds (a walk over
// ~250 file dates); `npm run dev` runs the TypeScript sources without a build.
import { readdirSync, statSync } from 'node:fs'
import module from 'node:module'
import { spawnSync } from 'node:child_process'
import { extname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SOURCES = ['src', 'plugins', 'routes', 'config']
const KINDS = new Set(['.ts', '.js', '.mjs', '.html', '.css', '.json'])

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
if (built === 0 || SOURCES.some((d) => newest(join(ROOT, d)) > built)) {
  process.stderr.write(`quiver: ${built === 0 ? 'no build in dist/' : 'sources changed since the last build'}: npm run build (tsc; npm run dev runs the sources without a build)\n`)
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const build = spawnSync(npm, ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' })
  if (build.status !== 0) {
    process.stderr.write(`quiver: the build failed (${build.error?.message ?? `exit ${build.status ?? build.signal}`}): not starting\n`)
    process.exit(1)
  }
}

// Node 22+ keeps V8's compiled code of every module it loads (ours and node_modules) in a cache
// directory (os.tmpdir()/node-compile-cache unless NODE_COMPILE_CACHE names one), so later starts
// skip most of the compiling. Node 20 has no such cache: there this does nothing.
module.enableCompileCache?.()

// In this process: the server watches its launchers (npm and its sh) itself, and gets the
// terminal's signals directly.
const { main } = await import(pathToFileURL(dist).href)
main().catch((err) => {
  process.stderr.write(`quiver: failed to start: ${err.message}\n`)
  process.exit(1)
})
