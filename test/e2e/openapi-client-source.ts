/**
 * Sources the OpenAPI client test writes next to the generated types (test/fixtures/generated,
 * gitignored), type-checks with tsc and then runs: the checked code is the executed code.
 */
export const CLIENT_SOURCE = `import createClient from 'openapi-fetch'
import type { paths } from './quiver.d.ts'

type Field = { name: string, type: string, nullable: boolean }

export function quiver (baseUrl: string, token: string) {
  const api = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${token}\` } })
  return {
    async createTopic (name: string, fields: Field[]) {
      const { data, error, response } = await api.POST('/v1/topics', { body: { name, schema: { fields } } })
      // Error bodies are typed too (the document gives every status its ErrorSchema).
      const err: { statusCode: number, code: string, error: string, message: string } | undefined = error
      return { status: response.status, body: data!, error: err }
    },
    async ingestJson (topic: string, rows: Array<Record<string, unknown>>) {
      const { data, response } = await api.POST('/v1/topics/{topic}/records', {
        params: { path: { topic }, query: { ack: 'durable' } },
        body: rows,
        headers: { 'content-type': 'application/json' }
      })
      const body: { topic: string, rows: number, batches: number, bytes: number, ack: 'durable' | 'accepted' } | undefined = data
      return { status: response.status, body }
    },
    async flush () {
      const { data, response } = await api.POST('/v1/admin/flush')
      const flushed: number | undefined = data?.flushed
      return { status: response.status, body: { flushed } }
    },
    async files (topic: string) {
      const { data, response } = await api.GET('/v1/topics/{topic}/files', { params: { path: { topic } } })
      const files: Array<{ key: string, bytes: number, rows: number, createdAt: string }> = data!.files
      return { status: response.status, body: { files } }
    },
    async topic (topic: string) {
      const { data, response } = await api.GET('/v1/topics/{topic}', { params: { path: { topic } } })
      const stats: { rows: number, bytes: number, files: number, lastFlushAt: string | null } = data!.stats
      return { status: response.status, body: { ...data!, stats } }
    }
  }
}
`

export const MISUSE_SOURCE = `import createClient from 'openapi-fetch'
import type { paths } from './quiver.d.ts'
const api = createClient<paths>({ baseUrl: 'http://127.0.0.1' })
await api.GET('/v1/no-such-route')
// a topic without its schema
await api.POST('/v1/topics', { body: { name: 'x' } })
// the files route needs the topic path parameter
await api.GET('/v1/topics/{topic}/files', {})
// rows is a number
const { data } = await api.GET('/v1/topics/{topic}/files', { params: { path: { topic: 't' } } }); const s: string = data!.files[0].rows
export {}
`
