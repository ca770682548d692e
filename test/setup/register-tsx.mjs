// Loads tsx for the test processes (tap's `node-arg`), with the TypeScript text kept in its source maps.
//
// tsx embeds `sourcesContent` only when it sees NODE_V8_COVERAGE. tap collects coverage through the
// inspector instead, so without this the maps say `sourcesContent: [null]`, c8 remaps every file onto
// an empty source, and the report says 100% for any .ts file that was loaded at all.
//
// Set here, after startup, the variable does not make Node dump coverage for this process (it reads it
// at startup only); Node passes it on to child processes even when a test gives them their own env, so
// a gateway or CLI child's tsx keeps its sources too. Their own dumps go to a directory that tap's
// report ignores (it reads only the files directly in .tap/coverage) and clears on the next run.
import { register } from 'node:module'
import { resolve } from 'node:path'

const env = process.env
if (!env.NODE_V8_COVERAGE && env._TAPJS_PROCESSINFO_COVERAGE_ !== '0') {
  env.NODE_V8_COVERAGE = resolve(env._TAPJS_PROCESSINFO_CWD_ ?? '.', '.tap/coverage/node')
}
if (env.NODE_V8_COVERAGE) {
  // tap's processinfo hooks were registered first, so the loader thread already exists with a copy of
  // the environment from before the line above: set the variable there too, before tsx loads in it.
  const hook = 'export function initialize (dir) { process.env.NODE_V8_COVERAGE = dir }'
  register(`data:text/javascript,${encodeURIComponent(hook)}`, { data: env.NODE_V8_COVERAGE })
}
await import('tsx')
