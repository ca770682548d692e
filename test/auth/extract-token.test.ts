import t from 'tap'
import { extractToken, isWebSocketHandshake } from '../../src/auth/extract-token.ts'
import { TokenRejectedError } from '../../src/auth/rejection.ts'

const reason = (sources: Parameters<typeof extractToken>[0]) => {
  try { return extractToken(sources) } catch (err) { return err instanceof TokenRejectedError ? `rejected:${err.reason}` : 'other' }
}
const WS = { upgrade: 'websocket' }

t.test('Authorization header', async (t) => {
  t.equal(reason({ headers: { authorization: 'Bearer abc.def.ghi' } }), 'abc.def.ghi')
  t.equal(reason({ headers: { authorization: 'bearer abc' } }), 'abc', 'scheme is case-insensitive')
  for (const bad of ['Bearer', 'Bearer ', 'Basic x', 'Bearer a b', 'Bearer  a', 'Token a', '', 'Bearer a,b']) {
    t.equal(reason({ headers: { authorization: bad } }), 'rejected:malformed_header', JSON.stringify(bad))
  }
  t.equal(reason({ headers: {} }), 'rejected:missing_token')
  // Node keeps the first of two Authorization headers in `headers`: the raw list tells.
  t.equal(reason({ headers: { authorization: 'Bearer a' }, rawHeaders: ['Host', 'x', 'Authorization', 'Bearer a', 'authorization', 'Bearer b'] }), 'rejected:malformed_header', 'two Authorization headers')
  t.equal(reason({ headers: { authorization: 'Bearer a' }, rawHeaders: ['Authorization', 'Bearer a', 'X-Authorization', 'Bearer b'] }), 'a', 'one, beside look-alikes')
  t.equal(reason({ headers: { authorization: 'Basic x', ...WS, 'sec-websocket-protocol': 'quiver.v1, bearer.tok' }, upgrade: true }), 'rejected:malformed_header', 'a bad header is not rescued by other sources')
})

t.test('WebSocket upgrades: subprotocol bearer.<jwt>, then ?access_token=', async (t) => {
  t.equal(reason({ headers: { ...WS, 'sec-websocket-protocol': 'quiver.v1, bearer.abc.def.ghi' }, upgrade: true }), 'abc.def.ghi')
  t.equal(reason({ headers: { upgrade: 'WebSocket', 'sec-websocket-protocol': 'bearer.x' }, upgrade: true }), 'x')
  t.equal(reason({ headers: WS, query: { access_token: 'q.t.s' }, upgrade: true }), 'q.t.s')
  t.equal(reason({ headers: { ...WS, 'sec-websocket-protocol': 'bearer.p' }, query: { access_token: 'q' }, upgrade: true }), 'p', 'subprotocol first')
  t.equal(reason({ headers: { ...WS, authorization: 'Bearer h', 'sec-websocket-protocol': 'bearer.p' }, upgrade: true }), 'h', 'header first')
  t.equal(reason({ headers: { ...WS, 'sec-websocket-protocol': 'quiver.v1, bearer.' }, upgrade: true }), 'rejected:missing_token')
  t.equal(reason({ headers: WS, query: { access_token: '' }, upgrade: true }), 'rejected:missing_token')
})

t.test('plain HTTP requests ignore the WebSocket-only sources', async (t) => {
  t.equal(reason({ headers: { 'sec-websocket-protocol': 'bearer.p' } }), 'rejected:missing_token')
  t.equal(reason({ headers: {}, query: { access_token: 'q' } }), 'rejected:missing_token')
})

t.test('without a real handshake, Upgrade: websocket alone does not open the URL and subprotocol sources', async (t) => {
  t.equal(reason({ headers: { ...WS, 'sec-websocket-protocol': 'bearer.p' }, upgrade: false }), 'rejected:missing_token')
  t.equal(reason({ headers: WS, query: { access_token: 'q' } }), 'rejected:missing_token')
})

t.test('isWebSocketHandshake: GET, Connection: upgrade, Upgrade: websocket, a 16-byte key, version 13', async (t) => {
  const real = { connection: 'keep-alive, Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' }
  t.equal(isWebSocketHandshake('GET', real), true)
  t.equal(isWebSocketHandshake('POST', real), false, 'not GET')
  t.equal(isWebSocketHandshake('GET', { ...real, connection: 'keep-alive' }), false, 'no Connection: upgrade')
  t.equal(isWebSocketHandshake('GET', { ...real, upgrade: 'h2c' }), false, 'another protocol')
  t.equal(isWebSocketHandshake('GET', { ...real, 'sec-websocket-key': undefined }), false, 'no key')
  t.equal(isWebSocketHandshake('GET', { ...real, 'sec-websocket-key': 'short' }), false, 'key not 16 bytes')
  t.equal(isWebSocketHandshake('GET', { ...real, 'sec-websocket-version': '8' }), false, 'old version')
})
