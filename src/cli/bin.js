#!/usr/bin/env node
// The published entry: the compiled CLI when `npm run build` produced dist/, else the TypeScript
// sources through tsx (a devDependency, so this path is for development checkouts only).
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'

const compiled = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url))
if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('./main.ts')
}
