import t from 'tap'
import { makeNdjson } from '../helpers/arrow.ts'
import { faultedGateway } from './lib/faulted-gateway.ts'

// GET /v1/admin/stats lists every topic's objects from storage. While storage cannot be listed it
// still answers (operators read it most then): the committed counters this instance knows, flagged
// `stale`, beside its own buffers, admission and connections.

t.test('admin stats answer while storage cannot be listed: known counters, flagged stale', async (t) => {
  const { proxy, gw, token, admin } = await faultedGateway(t, 'events')
  const sent = await fetch(`${gw.url}/v1/topics/events/records`, { method: 'POST', headers: { authorization: `Bearer ${token(['write'])}`, 'content-type': 'application/x-ndjson' }, body: makeNdjson(7) })
  t.equal(sent.status, 200, 'stored while storage works')
  const stats = async () => {
    const res = await fetch(`${gw.url}/v1/admin/stats`, { headers: { authorization: `Bearer ${admin}` }, signal: AbortSignal.timeout(120_000) })
    return { status: res.status, body: await res.json() as { bufferedBytes: number, topics: Record<string, Record<string, unknown>> } }
  }
  const healthy = await stats()
  t.match(healthy, { status: 200, body: { topics: { events: { committedRows: 7, files: 1, bufferedRows: 0 } } } })
  t.notOk('stale' in healthy.body.topics.events, 'listed: not stale')
  const known = { ...healthy.body.topics.events, stale: true }

  // The catalog is read, the topic's objects cannot be listed.
  proxy.mode({ answer: (r) => r.method === 'GET' && /[?&]prefix=events%2F/.test(r.path) ? 'drop' : 'pass' })
  const unlisted = await stats()
  t.same([unlisted.status, unlisted.body.topics], [200, { events: known }], 'the topic\'s listing failed: what this instance knew, stale')

  // Nothing of storage answers, not even the catalog.
  proxy.mode('refuse')
  const down = await stats()
  t.same([down.status, down.body.topics], [200, { events: known }], 'storage down: the topics this instance knows, stale')

  proxy.mode('pass')
  t.same((await stats()).body.topics, { events: healthy.body.topics.events }, 'listed again once storage is back')
})
