// The console's share of the gateway's code: src/arrow/value-converters.ts (the JSON value
// rules the gateway applies to NDJSON) bundled by esbuild into one browser module, so the page
// converts files exactly as the server would instead of keeping a copy of the rules.
// `npm run build` writes it beside the built console (node src/console/build.mjs <file>); run
// from the TypeScript sources, routes/console.ts bundles it in memory on its first request.
import { fileURLToPath } from 'node:url'

const ENTRY = fileURLToPath(new URL('../arrow/value-converters.ts', import.meta.url))

// The page loads apache-arrow once, as the UMD bundle that sets window.Arrow: the module uses
// that copy (one Type/TimeUnit for the page) instead of bundling a second one.
const arrowGlobal = {
  name: 'arrow-global',
  setup (build) {
    build.onResolve({ filter: /^apache-arrow$/ }, () => ({ path: 'apache-arrow', namespace: 'arrow-global' }))
    build.onLoad({ filter: /.*/, namespace: 'arrow-global' }, () => ({ contents: 'module.exports = globalThis.Arrow', loader: 'js' }))
  }
}

/** The bundled module's text; written to `outfile` when one is given. */
export async function buildValueConverters (outfile) {
  const { build } = await import('esbuild')
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    plugins: [arrowGlobal],
    write: false,
    outfile: outfile ?? 'value-converters.js',
    logLevel: 'warning',
    legalComments: 'none'
  })
  const text = result.outputFiles[0].text
  if (outfile !== undefined) {
    const { writeFileSync } = await import('node:fs')
    writeFileSync(outfile, text)
  }
  return text
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildValueConverters(process.argv[2])
