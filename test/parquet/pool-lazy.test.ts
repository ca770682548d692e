import t from 'tap'
import { createRequire } from 'node:module'
import { sep } from 'node:path'
import { createEncoderPool } from '../../src/parquet/pool.ts'
import { makeIpc } from './make-ipc.ts'

// Its own file: nothing else in this process may have loaded piscina before these checks.
const piscinaLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes(`${sep}node_modules${sep}piscina${sep}`))

t.test('piscina loads with the first task, not with the pool; a close before any task loads nothing', async (t) => {
  t.notOk(piscinaLoaded(), 'not loaded by importing the pool module')
  const idle = createEncoderPool({ threads: 1, compression: 'zstd' })
  t.equal(idle.threads, 1)
  await idle.close()
  t.notOk(piscinaLoaded(), 'a pool created and closed unused never loaded it')

  const pool = createEncoderPool({ threads: 1, compression: 'zstd' })
  t.teardown(() => pool.close())
  t.notOk(piscinaLoaded(), 'creating the pool loads nothing')
  const parquet = await pool.encode(makeIpc(100))
  t.same([...parquet.subarray(0, 4)], [0x50, 0x41, 0x52, 0x31], 'the first encode works (PAR1 magic)')
  t.ok(piscinaLoaded(), 'loaded by the first task')
  await pool.close()
  await t.rejects(pool.encode(makeIpc(1)), /encoder pool is closed/)
})
