import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRevocationList } from '../../src/auth/revocations.ts'
import { createFsStorage } from '../../src/storage/fs.ts'
import { createS3Storage } from '../../src/storage/s3.ts'
import { freePort } from '../helpers/gateway.ts'

// The revocation list decides whether the gateway may trust its own minted tokens: a list it
// could not read is never taken for an empty one (fail closed).

t.test('a bucket that cannot be listed at startup: not fresh (minted tokens get 503), never "nothing revoked"', async (t) => {
  // A real S3 client against a port nothing listens on: connection refused on the first list.
  const port = await freePort()
  const storage = createS3Storage({ bucket: 'none', endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, region: 'us-east-1' })
  const errors: string[] = []
  const list = createRevocationList(storage, { pollMs: 60_000, onError: (err) => errors.push(err.name) })
  t.teardown(() => list.close())
  t.equal(list.fresh(), false, 'not fresh before the first read')
  t.equal(await list.poll(), false, 'the first read fails')
  t.equal(list.fresh(), false, 'still not fresh: the list was never read')
  t.equal(errors.length, 1, 'the failure is reported')
})

t.test('a readable list: fresh after the first read, and its revoked ids are known', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-revocations-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const storage = await createFsStorage({ dir })
  const exp = Math.floor(Date.now() / 1000) + 3600
  const writer = createRevocationList(storage, { pollMs: 60_000 })
  await writer.poll()
  await writer.revoke('revoked-0001', exp)
  writer.close()

  const list = createRevocationList(storage, { pollMs: 60_000 })
  t.teardown(() => list.close())
  t.equal(list.fresh(), false, 'not fresh before the first read')
  t.equal(await list.poll(), true)
  t.equal(list.fresh(), true)
  t.equal(list.has('revoked-0001'), true, 'read from storage')
  t.equal(list.has('other-0001'), false)
})
