import t from 'tap'
import { addUnseenOperations, documentRoute } from '../src/openapi.ts'

t.test('addUnseenOperations: added when the route exists and the document lacks it, never over what the hook saw', async (t) => {
  const seen = { operationId: 'fromTheRoute' }
  const withIt = addUnseenOperations({ paths: { '/metrics': { get: seen } } }, () => true)
  t.equal(withIt.paths['/metrics'].get, seen, 'the route\'s own entry is kept')
  t.same(addUnseenOperations({ paths: {} }, () => false), { paths: {} }, 'no route, no entry')
  const added = addUnseenOperations({} as { paths?: Record<string, Record<string, { operationId: string, security: unknown }>> }, (method, url) => method === 'GET' && url === '/metrics')
  t.match(added.paths!['/metrics'].get, { operationId: 'getMetrics', security: [{}, { metricsToken: [] }] })
})

t.test('documentRoute: x-openapi-* merged, library pages renamed, WebSocket routes unhidden as their upgrade', async (t) => {
  const page = documentRoute('GET', '/console', { tags: ['docs'], 'x-openapi-response': { 200: { description: 'page' } }, response: { 404: { type: 'null' } } }, {})
  t.same(page, { url: '/console', schema: { tags: ['docs'], response: { 200: { description: 'page' }, 404: { type: 'null' } }, operationId: 'getConsole', security: [] } })

  const docs = documentRoute('GET', '/docs/', { hide: true }, {})
  t.equal(docs.url, '/docs')
  t.match(docs.schema, { operationId: 'getSwaggerUi', security: [], response: { 200: { content: { 'text/html': {} } } } })
  t.notOk('hide' in docs.schema)
  t.same(documentRoute('GET', '/docs/json', { hide: true }, {}).schema.hide, true, 'the UI\'s other routes stay hidden')

  // @fastify/websocket set `hide`; the route's own texts and refusals are kept.
  const ws = documentRoute('GET', '/v1/topics/:topic/tail', { hide: true, description: 'Messages.', security: [{ bearerAuth: [] }], response: { 401: { type: 'object' } } }, { websocket: true })
  t.notOk('hide' in ws.schema)
  t.match(ws.schema, { operationId: 'tailRecords', security: [{ bearerAuth: [] }, { accessTokenQuery: [] }], description: /^Messages\.\n\n\*\*Connecting\.\*\*/ })
  t.same(Object.keys(ws.schema.response as object), ['101', '401'])
  t.same(documentRoute('GET', '/plain', { hide: true }, {}).schema.hide, true, 'a route that hides itself stays hidden')
})
