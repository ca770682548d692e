import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

const TSC = join(import.meta.dirname, '..', '..', 'node_modules', 'typescript', 'bin', 'tsc')

/**
 * Type-checks `file` in `dir` (a generated client beside its generated types) with the project's
 * tsc and strict settings; `output` is tsc's report when it fails. Used by the OpenAPI client tests.
 */
export async function typecheck (dir: string, file: string): Promise<{ ok: boolean, output: string }> {
  const config = join(dir, `tsconfig.${file}.json`)
  writeFileSync(config, JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2023', 'DOM'],
      types: ['node'],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      allowImportingTsExtensions: true
    },
    files: [file]
  }))
  try {
    await promisify(execFile)(process.execPath, [TSC, '-p', config])
    return { ok: true, output: '' }
  } catch (err) {
    return { ok: false, output: String((err as { stdout?: string }).stdout) }
  }
}
