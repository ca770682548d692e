import { request } from 'node:http'
import t from 'tap'
import WebSocket from 'ws'
import { startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'

// A real gateway: the URL and subprotocol token sources must count only on a real WebSocket
// handshake to a WebSocket route, whatever headers a REST request carries.
const UNAUTHORIZED = { statusCode: 401, code: 'QUIVER_UNAUTHORIZED', error: 'Unauthorized', message: 'Missing or invalid bearer token' }
const HANDSHAKE = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' }

function get (url: string, headers: Record<string, string>): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    // A fresh connection each: the gateway closes a connection that asked for an upgrade it refused.
    const req = request(url, { headers, agent: false })
    req.on('response', (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode ?? 0, body: '' }) })
    req.on('error', reject)
    req.end()
  })
}

t.test('?access_token= and bearer.<jwt> work only on a real WebSocket upgrade to a WebSocket route', async (t) => {
  const dataDir = t.testdir()
  const reader = localToken(dataDir, ['read'])
  const writer = localToken(dataDir, ['write'])
  const gw = await startGateway(t, { DATA_DIR: dataDir })

  const cases: Array<[string, string, Record<string, string>]> = [
    ['REST + query token + a full handshake', `/v1/whoami?access_token=${reader}`, HANDSHAKE],
    ['REST + subprotocol token + a full handshake', '/v1/whoami', { ...HANDSHAKE, 'sec-websocket-protocol': `quiver.v1, bearer.${reader}` }],
    ['REST + query token + Upgrade: websocket only', `/v1/whoami?access_token=${reader}`, { upgrade: 'websocket' }],
    ['REST topics list + query token + Upgrade', `/v1/topics?access_token=${reader}`, { upgrade: 'websocket', connection: 'upgrade' }],
    ['WebSocket route, handshake without a key', `/v1/topics/events/stream?access_token=${writer}`, { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13' }],
    ['WebSocket route, version 8', `/v1/topics/events/stream?access_token=${writer}`, { ...HANDSHAKE, 'sec-websocket-version': '8' }]
  ]
  for (const [name, path, headers] of cases) {
    const res = await get(`${gw.url}${path}`, headers)
    t.equal(res.status, 401, name)
    t.same(JSON.parse(res.body), UNAUTHORIZED, `${name}: body`)
  }

  // The Authorization header works beside a stray Upgrade header. (A REST route answering a full
  // handshake is closed by @fastify/websocket whatever the token: no route to upgrade to.)
  const header = await get(`${gw.url}/v1/whoami`, { upgrade: 'websocket', authorization: `Bearer ${reader}` })
  t.equal(header.status, 200)
  t.equal(JSON.parse(header.body).sub, 'test-read')

  // A real handshake to the WebSocket route: the query token and the subprotocol token both open it.
  for (const [name, url, protocols] of [
    ['query', `${gw.url.replace('http', 'ws')}/v1/topics/events/stream?access_token=${writer}`, ['quiver.v1']],
    ['subprotocol', `${gw.url.replace('http', 'ws')}/v1/topics/events/stream`, ['quiver.v1', `bearer.${writer}`]]
  ] as const) {
    const ws = new WebSocket(url, [...protocols])
    const opened = await new Promise<string>((resolve) => {
      ws.once('open', () => resolve(`open ${ws.protocol}`))
      ws.once('unexpected-response', (_req, res) => resolve(`HTTP ${res.statusCode}`))
      ws.once('error', (err) => resolve(`error ${err.message}`))
    })
    t.equal(opened, 'open quiver.v1', `${name} token on a real upgrade`)
    ws.close()
  }
})
