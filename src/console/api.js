/* global location */
// REST calls to the gateway with the pasted bearer token; errors carry Quiver's stable code.

export class ApiError extends Error {
  constructor (status, body) {
    super(body?.message ?? `HTTP ${status}`)
    this.status = status
    this.code = body?.code ?? 'HTTP_' + status
  }
}

export class Api {
  constructor (getToken) {
    this.getToken = getToken
  }

  async request (method, path, body) {
    const headers = { accept: 'application/json' }
    const token = this.getToken()
    if (token) headers.authorization = 'Bearer ' + token
    if (body !== undefined) headers['content-type'] = 'application/json'
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    const json = text ? JSON.parse(text) : null
    if (!res.ok) throw new ApiError(res.status, json)
    return json
  }

  whoami () { return this.request('GET', '/v1/whoami') }
  listTopics () { return this.request('GET', '/v1/topics').then((r) => r.topics) }
  createTopic (name, fields) { return this.request('POST', '/v1/topics', { name, schema: { fields } }) }
}

/** ws:// or wss:// URL on this origin. */
export function wsUrl (path) {
  return location.origin.replace(/^http/, 'ws') + path
}

/** Browsers cannot set headers on a WebSocket: the token rides as a subprotocol next to quiver.v1. */
export function openSocket (path, token) {
  const ws = new WebSocket(wsUrl(path), ['quiver.v1', 'bearer.' + token])
  ws.binaryType = 'arraybuffer'
  return ws
}
