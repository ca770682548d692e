import t, { type Test as Tap } from 'tap'
import { readdirSync } from 'node:fs'
import { createFsStorage } from '../../src/storage/fs.ts'
import { CommittedIndex } from '../../src/read/committed.ts'
import { createCommit } from '../../src/pipeline/commit.ts'

const DIR = 'year=2026/month=12/day=02/hour=12'
const noLog = { info () {}, warn () {}, error () {} }

async function setup (t: Tap) {
  const dir = t.testdir()
  const storage = await createFsStorage({ dir })
  const commit = createCommit({ storage, index: new CommittedIndex(storage), hooks: {}, log: noLog })
  const files = (): string[] => { try { return readdirSync(`${dir}/t/${DIR}`) } catch { return [] } }
  return { storage, commit, files }
}

async function * chunks (log: string[]): AsyncGenerator<Uint8Array> {
  for (const c of ['PAR1', 'data', 'PAR1']) {
    log.push(`chunk ${c}`)
    yield Buffer.from(c)
  }
}

t.test('before() runs with the key before the object can appear: ahead of a buffer, after a stream ended', async (t) => {
  const { storage, commit, files } = await setup(t)
  const log: string[] = []
  const before = async (key: string): Promise<void> => {
    log.push(`before, object ${await storage.get(key) === null ? 'absent' : 'present'}`)
  }
  const streamed = await commit('t', DIR, chunks(log), { rows: () => 3, started: performance.now(), before })
  t.same(log, ['chunk PAR1', 'chunk data', 'chunk PAR1', 'before, object absent'])
  t.same(Buffer.from((await storage.get(streamed.key))!).toString(), 'PAR1dataPAR1')
  log.length = 0
  const buffered = await commit('t', DIR, Buffer.from('PAR1PAR1'), { rows: 1, started: performance.now(), before })
  t.same(log, ['before, object absent'])
  t.match(buffered, { bytes: 8, rows: 1 })
  t.equal(files().length, 2)
})

t.test('a before() that fails aborts the streamed object: 503, nothing visible, no temp file', async (t) => {
  const { commit, files } = await setup(t)
  const log: string[] = []
  const failing = commit('t', DIR, chunks(log), { rows: () => 3, started: performance.now(), before: async () => { throw new Error('claim write failed') } })
  await t.rejects(failing, { code: 'QUIVER_STORAGE_UNAVAILABLE', cause: { message: 'claim write failed' } })
  t.same(files(), [], 'no object, no temp file')
})
