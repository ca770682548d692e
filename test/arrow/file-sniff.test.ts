import t from 'tap'
import { sniffArrowFile } from '../../src/arrow/file-sniff.ts'

async function * chunks (parts: Array<Uint8Array | string>, fail?: Error): AsyncGenerator<Uint8Array | string> {
  for (const p of parts) yield p
  if (fail) throw fail
}
const collect = async (body: AsyncIterable<Uint8Array>) => { const out: Uint8Array[] = []; for await (const c of body) out.push(c); return Buffer.concat(out).toString() }

t.test('the file magic is recognised however the first bytes are split; every byte is handed on', async (t) => {
  const one = await sniffArrowFile(chunks(['A', 'RR', 'OW', '1\0\0rest', 'more']))
  t.equal(one.isFile, true)
  t.equal(await collect(one.body), 'ARROW1\0\0restmore')
  const stream = await sniffArrowFile(chunks([Buffer.from([0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0]), 'x']))
  t.equal(stream.isFile, false, 'a stream starts with a continuation marker')
  t.equal((await collect(stream.body)).length, 9)
  const short = await sniffArrowFile(chunks(['ARRO']))
  t.same([short.isFile, await collect(short.body)], [false, 'ARRO'], 'a body shorter than the magic')
  const empty = await sniffArrowFile(chunks([]))
  t.same([empty.isFile, await collect(empty.body)], [false, ''])
})

t.test('a source that fails while sniffed fails again where the body is read', async (t) => {
  const early = await sniffArrowFile(chunks(['AR'], new Error('aborted')))
  t.equal(early.isFile, false)
  await t.rejects(collect(early.body), { message: 'aborted' })
  const late = await sniffArrowFile(chunks(['ARROW1\0\0', 'x'], new Error('reset')))
  t.equal(late.isFile, true)
  await t.rejects(collect(late.body), { message: 'reset' })
})
