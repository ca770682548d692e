import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

// The folders of src/ form layers, lowest first: a module may import from its own layer or below,
// never from above. Read as text (no module is run): each file's relative imports name a src/
// unit (a folder, or a top-level file).
const LAYERS = [
  ['errors', 'clock', 'keys', 'log-redact', 'transfer'],
  ['schema'], // the type vocabulary and limits
  ['arrow', 'lake'], // Arrow decode/convert/encode; partitioning
  ['parquet', 'storage'],
  ['auth', 'catalog', 'http', 'metrics'],
  ['read'],
  ['pipeline'], // batcher, flush, commit
  ['ingest'], // the service both transports call
  ['ws'],
  ['app', 'server', 'lifecycle', 'openapi', 'start', 'build', 'cli'] // composition root, and the CLI (a client)
]

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src')

function sources (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    if (e.isDirectory()) return e.name === 'console' ? [] : sources(p) // the browser console loads by URL
    return /\.(ts|js|mjs)$/.test(e.name) ? [p] : []
  })
}

const unitOf = (file: string) => relative(SRC, file).split('/')[0].replace(/\.(ts|js|mjs)$/, '')

/** unit -> unit -> the files whose imports make that edge. */
function importGraph (): Map<string, Map<string, Set<string>>> {
  const graph = new Map<string, Map<string, Set<string>>>()
  for (const file of sources(SRC)) {
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = resolve(dirname(file), m[1])
      if (!target.startsWith(SRC + '/')) continue
      const [a, b] = [unitOf(file), unitOf(target)]
      if (a === b) continue
      if (!graph.has(a)) graph.set(a, new Map())
      const edges = graph.get(a)!
      if (!edges.has(b)) edges.set(b, new Set())
      edges.get(b)!.add(relative(SRC, file))
    }
  }
  return graph
}

const layerOf = new Map(LAYERS.flatMap((units, i) => units.map((u) => [u, i] as const)))

t.test('no import runs up a layer', async (t) => {
  const graph = importGraph()
  t.ok(graph.get('pipeline')?.has('arrow'), 'the graph is read (pipeline imports arrow)')
  const unplaced = [...new Set([...graph.keys(), ...[...graph.values()].flatMap((e) => [...e.keys()])])].filter((u) => !layerOf.has(u))
  t.same(unplaced, [], 'every src/ unit has a layer in LAYERS')
  const upward: string[] = []
  for (const [a, edges] of graph) {
    for (const [b, files] of edges) {
      if (layerOf.get(b)! > layerOf.get(a)!) for (const f of files) upward.push(`${f} -> ${b}`)
    }
  }
  t.same(upward.sort(), [], 'no upward imports')
})

t.test('the domain core does not import Fastify at run time (only the composition root and the error catalogue do)', async (t) => {
  const fastify = sources(SRC)
    .filter((f) => /^import (?!type )[^\n]*from ['"](fastify|@fastify\/[^'"]+|fastify-plugin)['"]/m.test(readFileSync(f, 'utf8')))
    .map((f) => relative(SRC, f)).sort()
  t.same(fastify, ['app.ts', 'errors.ts', 'server.ts'])
})
