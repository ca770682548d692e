import t from 'tap'
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readParquet } from 'parquet-wasm'
import { tableFromIPC } from 'apache-arrow'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'
import { waitFor } from '../helpers/wait.ts'

/*
 * A durable request to a partitioned topic is one object per partition. When one partition's
 * object cannot be written while another's is committed, the request must not answer an error
 * (CONTRACT §6: an error commits nothing; §12: a keyed retry lands exactly once): it waits, the
 * failed part retried, and answers 200 once every part is stored. Found from outside: a 503 for
 * rows already stored, and a keyed retry stored them a second time. Storage fault made real:
 * the partition's directory is blocked by a plain file (as a full disk or an S3 5xx on one PUT).
 */
t.test('one partition of a durable request cannot be written: the request waits, then lands whole and once; its keyed retry is a replay', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  const writer = localToken(dataDir, ['write'])
  const created = await app.inject({ method: 'POST', url: '/v1/topics', headers: { authorization: `Bearer ${admin}` }, payload: { name: 'pp', schema: { fields: [{ name: 'tenant', type: 'string', nullable: true }, { name: 'id', type: 'int64', nullable: false }] }, partitionBy: ['tenant'] } })
  t.equal(created.statusCode, 201, created.body)
  mkdirSync(join(dataDir, 'pp'), { recursive: true })
  const blocker = join(dataDir, 'pp', 'tenant=b')
  writeFileSync(blocker, 'not a directory')
  // Here tenant=a's rows are encoded as they arrive and commit first; the other order (a part
  // failing before its sibling commits) is pinned in test/pipeline/batcher.test.ts.
  const A_ROWS = 300_000
  const body = Array.from({ length: A_ROWS }, (_, i) => `{"tenant":"a","id":${i + 1}}\n`).join('') + '{"tenant":"b","id":0}\n'
  const send = () => app.inject({ method: 'POST', url: '/v1/topics/pp/records', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/x-ndjson', 'idempotency-key': 'k-partial' }, payload: body })
  const objects = (): string[] => existsSync(join(dataDir, 'pp'))
    ? readdirSync(join(dataDir, 'pp'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet')).sort()
    : []

  let answered = false
  const first = send().finally(() => { answered = true })
  await waitFor(() => objects().length === 1, 'tenant=a committed')
  t.match(objects()[0], /^tenant=a\//)
  // tenant=b keeps failing (retried with backoff): the request is still waiting, neither 503 nor 200
  const failures = async (): Promise<number> => Number(/quiver_upload_errors_total(?:\{[^}]*\})? (\d+)/.exec((await app.inject({ url: '/metrics' })).body)?.[1] ?? 0)
  await waitFor(async () => await failures() >= 2, 'tenant=b retried')
  t.notOk(answered, 'no answer while a part of the request is not stored')
  unlinkSync(blocker)
  const res = await first
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json(), { topic: 'pp', rows: A_ROWS + 1, batches: Math.ceil((A_ROWS + 1) / 10_000), bytes: body.length, ack: 'durable' })

  const retry = await send()
  t.equal(retry.statusCode, 200)
  t.equal(retry.headers['idempotent-replayed'], 'true', 'the keyed retry is answered from the key, nothing stored again')
  const stored = objects()
  t.equal(stored.length, 2)
  const ids = new Map<string, bigint[]>()
  for (const f of stored) {
    const table = tableFromIPC(readParquet(readFileSync(join(dataDir, 'pp', f))).intoIPCStream())
    const tenants = new Set(table.getChild('tenant')!.toArray() as string[])
    t.equal(tenants.size, 1)
    ids.set([...tenants][0], Array.from(table.getChild('id')!.toArray() as BigInt64Array))
  }
  const a = ids.get('a')!
  t.same([a.length, new Set(a).size, a[0], a.at(-1)], [A_ROWS, A_ROWS, 1n, BigInt(A_ROWS)], 'tenant a: every row exactly once')
  t.same(ids.get('b'), [0n], 'tenant b: its row exactly once')
})
