import t from 'tap'
import { readArrowStream } from '../../src/arrow/decode.ts'
import { toIpcStream } from '../../src/arrow/encode.ts'
import { chunked, ipcMessages, makeBatch, makeIpcStream, setBatchHeader, setBodyLength, streamOf } from '../helpers/arrow.ts'

const LIMITS = { maxBytes: 64 * 1024 * 1024 }
const ARROW = (message: string) => ({ code: 'QUIVER_INVALID_ARROW', statusCode: 400, message: `Invalid Arrow IPC data: ${message}` })

t.test('a stream truncated anywhere is rejected, never partially accepted', async (t) => {
  const ipc = toIpcStream([makeBatch(20), makeBatch(30, 20), makeBatch(10, 50)])
  const bounds = ipcMessages(ipc)
  let cuts = 0
  for (let cut = 0; cut < ipc.byteLength; cut += 29) {
    cuts++
    const err = await readArrowStream(streamOf(chunked(ipc.subarray(0, cut), 64)), LIMITS).then(() => null, e => e)
    t.equal(err?.code, 'QUIVER_INVALID_ARROW', `cut at ${cut}`)
  }
  t.ok(cuts > 40, `${cuts} cuts`)
  await t.rejects(readArrowStream(streamOf([ipc.subarray(0, bounds[2].end)]), LIMITS),
    ARROW('truncated stream: input ended after message 3 without the end-of-stream marker'))
  await t.rejects(readArrowStream(streamOf([ipc.subarray(0, bounds[1].end + 4)]), LIMITS),
    ARROW('truncated stream: input ended inside the length prefix of message 3 (after ' + (bounds[1].end + 4) + ' bytes)'))
  await t.rejects(readArrowStream(streamOf([ipc.subarray(0, bounds[1].end - 1)]), LIMITS),
    ARROW(`truncated stream: input ended inside the body of message 2 (after ${bounds[1].end - 1} bytes)`))
  const noEos = await readArrowStream(streamOf([ipc.subarray(0, bounds[3].end)]), { ...LIMITS, requireEos: false })
  t.equal(noEos.rows, 60, 'requireEos: false accepts a stream closed at a message boundary')
})

t.test('absurd length prefixes are rejected before allocating', async (t) => {
  const ipc = makeIpcStream(5)
  global.gc?.()
  const before = process.memoryUsage().arrayBuffers
  const huge = Uint8Array.of(255, 255, 255, 255, 0xf0, 0xff, 0xff, 0x7f)
  await t.rejects(readArrowStream(streamOf([huge, new Uint8Array(64)]), LIMITS),
    ARROW('message 1 claims a metadata length of 2147483632 bytes, over the limit of 16777216 bytes'))
  const legacy = Uint8Array.of(0xf0, 0xff, 0xff, 0x7f)
  await t.rejects(readArrowStream(streamOf([legacy]), LIMITS),
    ARROW('message 1 claims a metadata length of 2147483632 bytes, over the limit of 16777216 bytes'))
  const bigBody = setBodyLength(ipc, 1, 1n << 40n)
  const metaLen = ipcMessages(ipc)[1].metaLen
  await t.rejects(readArrowStream(streamOf([bigBody]), LIMITS),
    ARROW(`message 2 claims a body length of ${2 ** 40} bytes, over the limit of ${256 * 1024 * 1024 - metaLen} bytes`))
  await t.rejects(readArrowStream(streamOf([setBodyLength(ipc, 1, -5n)]), LIMITS), ARROW('malformed message header (body length -5)'))
  t.ok(process.memoryUsage().arrayBuffers - before < 32 * 1024 * 1024, 'no large buffer was allocated')
  // a plausible length that would take the body over maxBytes is a 413, found before reading it
  await t.rejects(readArrowStream(streamOf([setBodyLength(ipc, 1, 10_000_000n)]), { maxBytes: 1_000_000 }),
    { code: 'QUIVER_PAYLOAD_TOO_LARGE', statusCode: 413, message: 'Request body exceeds 1000000 bytes' })
  await t.rejects(readArrowStream(streamOf([bigBody]), { maxBytes: 1e6, maxMessageBytes: 4096 }),
    ARROW(`message 2 claims a body length of ${2 ** 40} bytes, over the limit of ${4096 - metaLen} bytes`))
})

t.test('bodies over maxBytes are 413, counted as they arrive', async (t) => {
  const ipc = makeIpcStream(2000, { batchRows: 100 })
  let pulled = 0
  async function * counting () { for (const c of chunked(ipc, 500)) { pulled += c.byteLength; yield c } }
  await t.rejects(readArrowStream(counting(), { maxBytes: 10_000 }),
    { code: 'QUIVER_PAYLOAD_TOO_LARGE', statusCode: 413, message: 'Request body exceeds 10000 bytes' })
  t.ok(pulled <= 10_500, `stopped reading at ${pulled} bytes`)
  t.equal((await readArrowStream(streamOf([ipc]), { maxBytes: ipc.byteLength })).rows, 2000, 'exactly maxBytes is fine')
})

t.test('a body spanning chunks is copied into one buffer as it arrives, taken once a quarter of it is in', async (t) => {
  const ipc = makeIpcStream(60_000, { batchRows: 60_000 }) // one record batch of ~2 MiB
  const message = ipcMessages(ipc)[1]
  const bodyStart = message.meta + message.metaLen
  const bodyBytes = message.end - bodyStart
  t.ok(bodyBytes > 1024 * 1024, 'a body of over 1 MiB')
  let pulled = 0
  const allocs: Array<{ n: number, pulledAt: number }> = []
  async function * counting () { for (const c of chunked(ipc, 65_536)) { pulled += c.byteLength; yield c } }
  const read = await readArrowStream(counting(), { ...LIMITS, alloc: (n) => { allocs.push({ n, pulledAt: pulled }); return new Uint8Array(n) } })
  t.equal(read.rows, 60_000)
  t.same(read.batches[0].getChild('id')!.get(59_999), makeBatch(60_000).getChild('id')!.get(59_999))
  t.same(allocs.map((a) => a.n), [bodyBytes], 'one buffer, for the body')
  const before = allocs[0].pulledAt - bodyStart // body bytes in when it was taken
  t.ok(before >= bodyBytes / 4 && before < bodyBytes / 4 + 65_536, `taken with ${before} of ${bodyBytes} body bytes in (a quarter, to the chunk)`)

  // A length prefix alone allocates nothing: a body claimed at 40 MiB, 1 MiB sent, then the end.
  const claimed = setBodyLength(ipc, 1, 40n * 1024n * 1024n)
  const sent = claimed.subarray(0, bodyStart + 1024 * 1024)
  allocs.length = 0
  await t.rejects(readArrowStream(streamOf(chunked(sent, 65_536)), { ...LIMITS, alloc: (n) => { allocs.push({ n, pulledAt: pulled }); return new Uint8Array(n) } }),
    ARROW(`truncated stream: input ended inside the body of message 2 (after ${sent.byteLength} bytes)`))
  t.same(allocs, [], 'no buffer was taken for a body a quarter of which never came')
})

// Found from outside: a RecordBatch header saying -5 rows was read by apache-arrow as an empty
// batch, and the request was answered 200 {"rows": 0} with its 100 rows dropped.
t.test('negative row counts, node lengths and null counts in a batch header are 400, never an empty batch', async (t) => {
  const ipc = makeIpcStream(100)
  t.equal((await readArrowStream(streamOf([setBatchHeader(ipc, 1, 100n)]), LIMITS)).rows, 100, 'the helper patches nothing else')
  await t.rejects(readArrowStream(streamOf([setBatchHeader(ipc, 1, -5n)]), LIMITS), ARROW('malformed message header (record batch length -5)'))
  await t.rejects(readArrowStream(streamOf([setBatchHeader(ipc, 1, -(2n ** 63n))]), LIMITS), ARROW(`malformed message header (record batch length ${-(2n ** 63n)})`))
  await t.rejects(readArrowStream(streamOf([setBatchHeader(ipc, 1, 100n, { index: 0, length: -1n, nulls: 0n })]), LIMITS),
    ARROW('malformed message header (field node 0: length -1, null count 0)'))
  await t.rejects(readArrowStream(streamOf([setBatchHeader(ipc, 1, 100n, { index: 1, length: 100n, nulls: -3n })]), LIMITS),
    ARROW('malformed message header (field node 1: length 100, null count -3)'))
  await t.rejects(readArrowStream(streamOf([setBatchHeader(ipc, 1, 100n, { index: 1, length: 100n, nulls: 101n })]), LIMITS),
    ARROW('malformed message header (field node 1: length 100, null count 101)'))
})
