import t from 'tap'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { buildApp } from '../helpers/app.ts'
import { localToken } from '../helpers/local-auth.ts'

/*
 * S3 takes object keys of at most 1,024 bytes. Eight partition columns of 200-byte values each
 * (every one allowed alone) made keys of 1,710 bytes: on S3 a durable request would have got 503
 * "retry shortly" for ever and an accepted one 202 for rows never stored. Such a row is refused
 * up front, 422, nothing stored; a key of exactly 1,024 bytes is written.
 */
t.test('partition values whose object key would pass 1,024 bytes: 422 naming the sizes, nothing stored; exactly 1,024 is written', async (t) => {
  const { app, dataDir } = await buildApp(t)
  const admin = localToken(dataDir, ['admin'])
  const writer = localToken(dataDir, ['write'])
  const names = ['a', 'b', 'c', 'd', 'e']
  const fields = [...names.map((name) => ({ name, type: 'string', nullable: false })), { name: 'n', type: 'int64', nullable: false }]
  t.equal((await app.inject({ method: 'POST', url: '/v1/topics', headers: { authorization: `Bearer ${admin}` }, payload: { name: 'deep', schema: { fields }, partitionBy: names } })).statusCode, 201)
  const post = (values: string[]) => app.inject({
    method: 'POST',
    url: '/v1/topics/deep/records',
    headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/x-ndjson' },
    payload: JSON.stringify({ ...Object.fromEntries(names.map((k, i) => [k, values[i]])), n: 1 }) + '\n'
  })
  const stored = (): string[] => existsSync(join(dataDir, 'deep')) ? readdirSync(join(dataDir, 'deep'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet')) : []
  // key: deep/ + a=…/b=…/c=…/d=…/e=…/ + year=YYYY/month=MM/day=DD/hour=HH (34) + / + 26-character id + .parquet
  const room = 1024 - 'deep/'.length - 1 - 26 - '.parquet'.length
  const time = 'year=2026/month=12/day=03/hour=14'.length
  const overhead = names.length * 3 + time // `x=` and `/` per column
  const fill = room - overhead // value bytes when the key is exactly 1,024
  const values = (total: number) => names.map((_, i) => 'v'.repeat(Math.floor(total / names.length) + (i < total % names.length ? 1 : 0)))

  const over = await post(values(fill + 1))
  t.same([over.statusCode, over.json()], [422, {
    statusCode: 422,
    code: 'QUIVER_PARTITION_VALUE_TOO_LONG',
    error: 'Unprocessable Entity',
    message: `A row's partition values make directories of ${room + 1} bytes once escaped; at most ${room} fit in an object key (S3 takes keys of at most 1,024 bytes)`
  }])
  t.same(stored(), [], 'nothing stored')
  const exact = await post(values(fill))
  t.equal(exact.statusCode, 200, exact.body)
  const keys = stored()
  t.equal(keys.length, 1)
  t.equal(Buffer.byteLength(`deep/${keys[0]}`), 1024, 'the object key is 1,024 bytes')
})
