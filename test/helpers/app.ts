import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildServer } from '../../src/server.ts'
import { loadConfig } from '../../config/load.ts'
import type { Config } from '../../config/schema.ts'

export interface TestApp {
  app: FastifyInstance
  config: Config
  dataDir: string
}

/**
 * Builds the real app (every plugin, every route) on a fresh temporary DATA_DIR.
 * `env` overrides the environment; nothing is read from the process environment or `.env`.
 * Closed (and the directory removed) when the test ends.
 */
export async function buildApp (t: { teardown: (fn: () => unknown) => void }, env: Record<string, string> = {}): Promise<TestApp> {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'quiver-test-'))
  const config = loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: dataDir, FLUSH_INTERVAL_MS: '100', ...env }, { dotenv: false })
  const app = await buildServer(config)
  await app.ready()
  t.teardown(async () => {
    await app.close()
    if (!env.DATA_DIR) rmSync(dataDir, { recursive: true, force: true })
  })
  return { app, config, dataDir }
}
