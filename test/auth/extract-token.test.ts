import t from 'tap'
import { extractToken } from '../../src/auth/extract-token.ts'
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
  t.equal(reason({ headers: { authorization: 'Basic x', ...WS, 'sec-websocket-protocol': 'quiver.v1, bearer.tok' } }), 'rejected:malformed_header', 'a bad header is not rescued by other sources')
})

t.test('WebSocket upgrades: subprotocol bearer.<jwt>, then ?access_token=', async (t) => {
  t.equal(reason({ headers: { ...WS, 'sec-websocket-protocol': 'quiver.v1, bearer.abc.def.ghi' } }), 'abc.def.ghi')
  t.equal(reason({ headers: { upgrade: 'WebSocket', 'sec-websocket-protocol': 'bearer.x' } }), 'x')
  t.equal(reason({ headers: WS, query: { access_token: 'q.t.s' } }), 'q.t.s')
  t.equal(reason({ headers: { ...WS, 'sec-websocket-protocol': 'bearer.p' }, query: { access_token: 'q' } }), 'p', 'subprotocol first')
  t.equal(reason({ headers: { ...WS, authorization: 'Bearer h', 'sec-websocket-protocol': 'bearer.p' } }), 'h', 'header first')
  t.equal(reason({ headers: { ...WS, 'sec-websocket-protocol': 'quiver.v1, bearer.' } }), 'rejected:missing_token')
  t.equal(reason({ headers: WS, query: { access_token: '' } }), 'rejected:missing_token')
})

t.test('plain HTTP requests ignore the WebSocket-only sources', async (t) => {
  t.equal(reason({ headers: { 'sec-websocket-protocol': 'bearer.p' } }), 'rejected:missing_token')
  t.equal(reason({ headers: {}, query: { access_token: 'q' } }), 'rejected:missing_token')
})
