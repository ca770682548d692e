#!/usr/bin/env node
// The package's `bin`: the TypeScript sources through tsx in a development checkout, else the
// compiled dist/ (`npm run build`, as in the Docker image).
//
// The CLI runs in a worker thread with a capped heap: its live data is a few batches, but V8 sizes
// a process's heap from the machine's memory and collects lazily, so without a cap a long `send`
// would sit on hundreds of MB of garbage. The main thread only forwards signals and the exit code.
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { isMainThread, Worker } from 'node:worker_threads'

const HEAP_MB = Number(process.env.QUIVER_HEAP_MB) || 160

if (isMainThread && process.env.QUIVER_NO_WORKER !== '1') {
  const worker = new Worker(new URL(import.meta.url), {
    argv: process.argv.slice(2),
    resourceLimits: { maxOldGenerationSizeMb: HEAP_MB, maxYoungGenerationSizeMb: 16 }
  })
  // First signal: finish what is in flight and save the resume state; second: stop now.
  let signals = 0
  const forward = (signal) => () => {
    if (signals++) process.exit(130)
    worker.postMessage({ signal })
  }
  process.on('SIGINT', forward('SIGINT'))
  process.on('SIGTERM', forward('SIGTERM'))
  worker.on('error', (err) => {
    process.stderr.write(`quiver: ${err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `out of memory (heap cap ${HEAP_MB} MB; raise QUIVER_HEAP_MB)` : err.stack}\n`)
    process.exitCode = 1
  })
  worker.on('exit', (code) => { process.exitCode ||= code })
} else {
  // A development checkout runs the sources (a stale dist/ must not shadow them); an installed
  // package without devDependencies runs the compiled build.
  const tsx = await import('tsx/esm/api').catch(() => null)
  if (tsx && existsSync(fileURLToPath(new URL('./main.ts', import.meta.url)))) {
    tsx.register()
    await import('./main.ts')
  } else {
    await import(pathToFileURL(fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url))).href)
  }
}
