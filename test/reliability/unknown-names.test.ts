import t from 'tap'
import { randomBytes } from 'node:crypto'
import { Pool } from 'undici'
import { startGateway } from '../helpers/gateway.ts'
import { localToken } from '../helpers/local-auth.ts'
import { waitFor } from '../helpers/wait.ts'
import { closed, connect, type Refusal } from '../helpers/ws-client.ts'

const name = () => `n${randomBytes(8).toString('hex')}`

// Read-only traffic on made-up topic names must not leave per-name state behind (memory would grow with every name an attacker makes up).
// The gateway reports the entries of its per-topic maps in /v1/admin/stats (`trackedNames`).
for (const autoCreate of ['true', 'false']) {
  t.test(`1000 reads of unknown names keep no state (AUTO_CREATE_TOPICS=${autoCreate})`, async (t) => {
    const gw = await startGateway(t, { AUTO_CREATE_TOPICS: autoCreate })
    const reader = localToken(gw.dataDir, ['read'])
    const admin = localToken(gw.dataDir, ['admin'])
    const pool = new Pool(gw.url, { connections: 16 })
    t.teardown(() => pool.close())
    const get = async (path: string, token = reader) => {
      const res = await pool.request({ path, method: 'GET', headers: { authorization: `Bearer ${token}` } })
      return { status: res.statusCode, body: await res.body.json() as Record<string, unknown> }
    }
    const created = await pool.request({
      path: '/v1/topics',
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'real', schema: { fields: [{ name: 'v', type: 'int64', nullable: false }] } })
    })
    t.equal(created.statusCode, 201)
    await created.body.dump()
    t.equal((await get('/v1/topics/real/files')).status, 200)
    const tracked = async () => (await get('/v1/admin/stats', admin)).body.trackedNames as number
    const baseline = await tracked()

    const kinds = ['files', 'records', '']
    let i = 0
    const worker = async () => {
      while (i < 1000) {
        const n = name()
        const kind = kinds[i++ % kinds.length]
        const res = await get(`/v1/topics/${n}${kind ? `/${kind}` : ''}`)
        if (res.status !== 404) throw new Error(`${kind} of ${n}: ${res.status}`)
        t.equal(res.body.code, 'QUIVER_TOPIC_NOT_FOUND')
      }
    }
    await Promise.all(Array.from({ length: 16 }, worker))

    // Tails: refused before the upgrade without auto-create; with it, a reader may wait for a
    // topic's first writer, and the name is forgotten once it leaves.
    for (let k = 0; k < 100; k++) {
      const url = `${gw.url.replace('http', 'ws')}/v1/topics/${name()}/tail`
      if (autoCreate === 'false') {
        const refused = await connect(url, ['quiver.v1', `bearer.${reader}`]).catch((e: Refusal) => e)
        t.equal((refused as Refusal).status, 404)
      } else {
        const ws = await connect(url, ['quiver.v1', `bearer.${reader}`])
        const done = closed(ws)
        ws.close()
        await done
      }
    }

    // Catalog misses are kept only briefly (another instance may be creating the name): wait for
    // the count to fall back (the misses lapse in 100 ms; the timeout is for a slow machine).
    let now = await tracked()
    await waitFor(async () => (now = await tracked()) <= baseline, `per-name state back to ${baseline} entries`, { timeoutMs: 30_000, everyMs: 50 }).catch(() => {})
    t.equal(now, baseline, `per-name state back to ${baseline} entries`)
  })
}
