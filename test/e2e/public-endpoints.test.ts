import { test } from 'tap'
import { freePort, startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { metric } from '../helpers/ws-client.ts'
import { waitFor } from '../helpers/wait.ts'

// What unauthenticated /metrics and /readyz give away, checked on a real gateway process.
const SCRAPE = 'scraper-secret-0123456789'

test('/metrics: bearer METRICS_TOKEN, topic labels only for the first METRICS_TOPIC_LABELS catalog topics', async (t) => {
  const gw = await startGateway(t, { METRICS_TOPIC_LABELS: '2', METRICS_TOKEN: SCRAPE, LOG_LEVEL: 'warn' })
  const admin = localToken(gw.dataDir, ['admin'])
  const writer = localToken(gw.dataDir, ['write'])
  const names = ['alpha', 'beta', 'secret_payroll', 'secret_merger']
  for (const [i, name] of names.entries()) {
    const created = await fetch(`${gw.url}/v1/topics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, schema: { fields: [{ name: 'id', type: 'int64', nullable: false }] } })
    })
    t.equal(created.status, 201, name)
    const rows = Array.from({ length: i + 1 }, (_, k) => JSON.stringify({ id: k })).join('\n') + '\n'
    const sent = await fetch(`${gw.url}/v1/topics/${name}/records?ack=durable`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/x-ndjson' }, body: rows })
    t.equal(sent.status, 200, `${name}: ${i + 1} rows`)
  }
  // A name the catalog does not hold gets no series.
  const unknown = await fetch(`${gw.url}/v1/topics/never_created/records`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/x-ndjson' }, body: '{"id":1}\n' })
  t.equal(unknown.status, 404)

  for (const authorization of [undefined, 'Bearer wrong-secret-0123456789', `Basic ${SCRAPE}`, `Bearer ${admin}`]) {
    const res = await fetch(`${gw.url}/metrics`, { headers: authorization ? { authorization } : {} })
    t.equal(res.status, 401, `refused: ${authorization?.slice(0, 12) ?? 'no header'}`)
    t.equal(res.headers.get('www-authenticate'), 'Bearer error="invalid_token"')
    t.same(await res.json(), { statusCode: 401, code: 'QUIVER_UNAUTHORIZED', error: 'Unauthorized', message: 'Missing or invalid bearer token' })
  }
  const res = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${SCRAPE}` } })
  t.equal(res.status, 200)
  const text = await res.text()
  const labels = [...new Set([...text.matchAll(/topic="([^"]*)"/g)].map((m) => m[1]))].sort()
  t.same(labels, ['_other', 'alpha', 'beta'], 'two topics by name, the rest aggregated')
  t.equal(metric(text, 'quiver_rows_ingested_total{topic="alpha"}'), 1)
  t.equal(metric(text, 'quiver_rows_ingested_total{topic="beta"}'), 2)
  t.equal(metric(text, 'quiver_rows_ingested_total{topic="_other"}'), 3 + 4, 'secret_payroll and secret_merger counted, not named')
  t.notMatch(text, /secret_|never_created/, 'no other topic name anywhere in the exposition')
})

test('/metrics without METRICS_TOKEN stays open; METRICS_TOPIC_LABELS=0 names no topic', async (t) => {
  const gw = await startGateway(t, { METRICS_TOPIC_LABELS: '0', LOG_LEVEL: 'warn' })
  const admin = localToken(gw.dataDir, ['admin'])
  await fetch(`${gw.url}/v1/topics`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'hidden', schema: { fields: [{ name: 'id', type: 'int64', nullable: false }] } }) })
  const sent = await fetch(`${gw.url}/v1/topics/hidden/records?ack=durable`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/x-ndjson' }, body: '{"id":1}\n{"id":2}\n' })
  t.equal(sent.status, 200)
  const text = await (await fetch(`${gw.url}/metrics`)).text()
  t.equal(metric(text, 'quiver_rows_ingested_total{topic="_other"}'), 2)
  t.equal(metric(text, 'quiver_flushes_total{topic="_other"}'), 1)
  t.notMatch(text, /hidden/)
})

test('a weak METRICS_TOKEN fails at startup, naming the variable', async (t) => {
  await t.rejects(startGateway(t, { METRICS_TOKEN: 'short', LOG_LEVEL: 'warn' }), /exited during startup \(78\)[\s\S]*METRICS_TOKEN: must match pattern/)
})

test('/readyz answers stable reason codes: no issuer URL, host or error text; the log has the detail', async (t) => {
  const closed = await freePort()
  const issuer = `http://127.0.0.1:${closed}/realms/secret-tenant`
  const gw = await startGateway(t, {
    AUTH_PROVIDERS: 'oidc',
    OIDC_ISSUER: issuer,
    S3_BUCKET: 'quiver-private-bucket',
    S3_ENDPOINT: `http://127.0.0.1:${closed}`,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    LOG_LEVEL: 'warn'
  })
  const res = await fetch(`${gw.url}/readyz`)
  t.equal(res.status, 503)
  const text = await res.text()
  t.same(JSON.parse(text), { status: 'unavailable', checks: { storage: 'storage_unreachable', auth: 'auth_keys_unavailable' } })
  t.notMatch(text, /127\.0\.0\.1|secret-tenant|private-bucket|ECONN|http/, 'nothing but codes')
  // The operator's copy: the log line, with the issuer and the error (it reaches stdout after the answer).
  await waitFor(() => gw.stdout().includes('"msg":"not ready"'), 'the not-ready log line')
  const line = JSON.parse(gw.stdout().split('\n').find((l) => l.includes('"msg":"not ready"'))!)
  t.same(line.readiness, {
    storage: { reason: 'storage_unreachable', detail: `ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:${closed}` },
    auth: { reason: 'auth_keys_unavailable', detail: `JWKS of ${issuer} not loaded: fetch failed` }
  })
})
