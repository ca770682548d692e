import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildServer } from '../../../src/server.ts'
import { loadConfig } from '../../../config/load.ts'
import { localToken } from '../../helpers/local-auth.ts'
import { startS3rver } from '../../helpers/s3rver.ts'

// GET /v1/admin/stats after a restart on the same storage: every catalog topic, with what is stored
// in it (the figures GET /v1/topics/{topic} gives), not only what this process wrote since it started.

type Counters = { bufferedRows: number, bufferedBytes: number, committedRows: number, committedBytes: number, files: number, lastFlushAt: string | null }
interface Gateway { base: string, close: () => Promise<void> }

/** A listening gateway on `dataDir` (and the bucket `env` names); its tokens sign with the key kept in `dataDir`. */
async function gateway (dataDir: string, env: Record<string, string>): Promise<Gateway> {
  const app = await buildServer(loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: dataDir, FLUSH_INTERVAL_MS: '100', ...env }, { dotenv: false }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() }
}

for (const storage of ['local', 's3'] as const) {
  t.test(`admin stats report stored topics after a restart (${storage} storage)`, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'quiver-stats-'))
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
    const env = storage === 's3' ? (await startS3rver(t)).env : {}
    const admin = localToken(dataDir, ['admin'])
    const writer = localToken(dataDir, ['write'])
    const call = async (gw: Gateway, method: string, path: string, token: string, body?: string, type = 'application/json') => {
      const res = await fetch(`${gw.base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': type }) }, body })
      const text = await res.text()
      return { status: res.status, body: text === '' ? null : JSON.parse(text) }
    }
    const create = async (gw: Gateway, name: string) => {
      const res = await call(gw, 'POST', '/v1/topics', admin, JSON.stringify({ name, schema: { fields: [{ name: 'id', type: 'int64', nullable: false }] } }))
      t.equal(res.status, 201, `${name} created`)
    }
    const send = async (gw: Gateway, topic: string, ids: number[]) => {
      const res = await call(gw, 'POST', `/v1/topics/${topic}/records`, writer, ids.map((id) => JSON.stringify({ id })).join('\n'), 'application/x-ndjson')
      t.equal(res.status, 200, `${ids.length} rows into ${topic}, durable`)
    }
    const stats = async (gw: Gateway) => {
      const res = await call(gw, 'GET', '/v1/admin/stats', admin)
      t.equal(res.status, 200)
      return res.body.topics as Record<string, Counters>
    }
    /** What GET /v1/topics/{topic} and its files say is stored, as admin stats spell it. */
    const stored = async (gw: Gateway, topic: string): Promise<Counters> => {
      const { body } = await call(gw, 'GET', `/v1/topics/${topic}`, admin)
      const { files } = (await call(gw, 'GET', `/v1/topics/${topic}/files`, admin)).body as { files: Array<{ bytes: number, rows: number }> }
      t.same([body.stats.rows, body.stats.bytes, body.stats.files],
        [files.reduce((n, f) => n + f.rows, 0), files.reduce((n, f) => n + f.bytes, 0), files.length], `${topic}: topic stats agree with its files`)
      return { bufferedRows: 0, bufferedBytes: 0, committedRows: body.stats.rows, committedBytes: body.stats.bytes, files: body.stats.files, lastFlushAt: body.stats.lastFlushAt }
    }

    const first = await gateway(dataDir, env)
    await create(first, 'events')
    await create(first, 'quiet')
    await send(first, 'events', [1, 2, 3])
    await send(first, 'events', [4, 5])
    const before = await stats(first)
    const events = await stored(first, 'events')
    t.match(events, { committedRows: 5, files: 2, lastFlushAt: String })
    t.same(before.events, events, 'the writing instance counts what it stored')
    await first.close()

    const second = await gateway(dataDir, env)
    t.teardown(() => second.close())
    const after = await stats(second)
    // lastFlushAt: the writer noted its commit's time, a listing reads the object's (S3 gives seconds).
    t.same(after, {
      events: { ...events, lastFlushAt: after.events?.lastFlushAt },
      quiet: { bufferedRows: 0, bufferedBytes: 0, committedRows: 0, committedBytes: 0, files: 0, lastFlushAt: null }
    }, 'after the restart: every catalog topic, with what is stored in it')
    t.ok(Math.abs(Date.parse(after.events.lastFlushAt!) - Date.parse(events.lastFlushAt!)) < 2000, `lastFlushAt ${after.events.lastFlushAt} is the last commit's (${events.lastFlushAt})`)
    t.same(after.events, await stored(second, 'events'), 'the same figures as GET /v1/topics/events')

    // This instance's own writes add to what earlier runs stored.
    await send(second, 'events', [6])
    const more = await stats(second)
    t.match(more.events, { committedRows: 6, files: 3, bufferedRows: 0 })
    t.same(more.events, await stored(second, 'events'))

    // A topic created again under its name counts only its own objects (the earlier ones stay in storage).
    t.equal((await call(second, 'DELETE', '/v1/topics/events', admin)).status, 204)
    await create(second, 'events')
    await send(second, 'events', [7, 8])
    const recreated = await stats(second)
    t.match(recreated.events, { committedRows: 2, files: 1 })
    t.same(recreated.events, await stored(second, 'events'), 'the same figures as GET /v1/topics/events')
  })
}
