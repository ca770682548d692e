// Part of `npm run build`, after tsc: bundles the dependencies whose many small modules dominate
// the gateway's start (apache-arrow alone is ~150 ESM files, 0.17 s to load here, TypeBox 0.14 s;
// one bundled file of the same code loads in a third of that) into dist/vendor/, and points dist's
// imports at the bundles.
// Only packages that nothing outside dist/ hands objects to or takes objects from are bundled:
// every module of the built gateway then shares one copy, as it shared the package before.
// The TypeScript sources (tests, npm run dev) keep importing the packages themselves.
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const DIST = join(ROOT, 'dist')
const VENDOR = join(DIST, 'vendor')
const require = createRequire(join(ROOT, 'package.json'))

/** Package → how to re-export it: ESM packages as they are, CommonJS ones by their export names. */
const PACKAGES = {
  'apache-arrow': 'esm',
  '@sinclair/typebox': 'esm',
  'fast-jwt': 'cjs',
  'prom-client': 'cjs'
}

const fileOf = (name) => join(VENDOR, `${name.replace(/^@/, '').replace('/', '-')}.mjs`)

async function bundle (name, kind) {
  const entry = kind === 'esm'
    ? `export * from '${name}'\n`
    : `import m from '${name}'\nexport default m\nexport const { ${Object.keys(require(name)).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && k !== 'default').join(', ')} } = m\n`
  await build({
    stdin: { contents: entry, resolveDir: ROOT, loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: fileOf(name),
    // CommonJS inside an ES module needs a require of its own (for node: built-ins).
    banner: { js: "import { createRequire as __quiverRequire } from 'node:module'; const require = __quiverRequire(import.meta.url);" },
    logLevel: 'warning',
    legalComments: 'eof'
  })
}

function rewrite (dir) {
  const names = Object.keys(PACKAGES).map((n) => n.replace(/[/\\-]/g, '\\$&')).join('|')
  const specifier = new RegExp(`(from\\s*|import\\(\\s*)(['"])(${names})\\2`, 'g')
  let files = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) {
      if (p !== VENDOR) files += rewrite(p)
      continue
    }
    if (!e.name.endsWith('.js')) continue
    const src = readFileSync(p, 'utf8')
    const out = src.replace(specifier, (_, lead, quote, name) => {
      let rel = relative(dirname(p), fileOf(name)).split('\\').join('/')
      if (!rel.startsWith('.')) rel = `./${rel}`
      return `${lead}${quote}${rel}${quote}`
    })
    if (out !== src) {
      writeFileSync(p, out)
      files++
    }
  }
  return files
}

mkdirSync(VENDOR, { recursive: true })
await Promise.all(Object.entries(PACKAGES).map(([name, kind]) => bundle(name, kind)))
const files = ['src', 'plugins', 'routes', 'config'].reduce((n, d) => n + rewrite(join(DIST, d)), 0)
process.stdout.write(`vendor: ${Object.keys(PACKAGES).join(', ')} bundled into dist/vendor; ${files} files of dist point at them\n`)
