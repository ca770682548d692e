// Prints /openapi.json as a started gateway serves it (for `npm run lint:openapi`).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildServer } from '../../src/server.ts'
import { loadConfig } from '../../config/load.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'quiver-openapi-'))
const app = await buildServer(loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: dataDir, AUTH_PROVIDERS: 'local' }, { dotenv: false }))
const res = await app.inject({ url: '/openapi.json', headers: { host: '127.0.0.1:3000' } })
process.stdout.write(res.body)
await app.close()
rmSync(dataDir, { recursive: true, force: true })
