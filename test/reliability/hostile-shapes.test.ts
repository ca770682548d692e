import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { startGateway } from '../helpers/gateway.ts'
import { connect, frames, localRows } from '../helpers/ws-client.ts'
import { makeBatch, makeIpcStream, TEST_ARROW_SCHEMA, TEST_TOPIC_SCHEMA } from '../helpers/arrow.ts'
import { preparedDataDir } from './lib/tokens.ts'
import { chunk, earlyAnswer } from './lib/raw-http.ts'
import { countLocalRows, parquetFiles, readParquetTable } from './lib/parquet.ts'
import {
  deepPath, DICT_SCHEMA, dictBatch, hugeText, ipcOf, namedStream, nestedStream, oneRowWithName, strings, wideStream, withoutEos
} from './lib/hostile-arrow.ts'

/*
 * Shapes of Arrow input that are legal but hostile: deep nesting, 10,000 columns,
 * zero-row batches, dictionary deltas and replacements, a 64 MiB string, a schema change
 * mid-stream. Each gets an exact answer from a real gateway process, over HTTP and WebSocket;
 * a refused one stores nothing; the gateway never answers 5xx, never logs an error, stays alive
 * and within a memory bound. CI runs the gateway with snappy; QUIVER_LONG_TESTS=1 with the default
 * zstd, whose first flush of a 10,000-column topic costs 13–30 s (snappy: 1–4 s).
 */
const LONG = process.env.QUIVER_LONG_TESTS === '1'
const MiB = 1024 * 1024
const MAX_REQUEST = 80 * MiB
// Measured 875–955 MiB: the encoder threads' wasm memory grows for the 64 MiB value and never shrinks.
const RSS_LIMIT = 1536 * MiB
const arrowError = (message: string) => ({ statusCode: 400, code: 'QUIVER_INVALID_ARROW', error: 'Bad Request', message: `Invalid Arrow IPC data: ${message}` })
const mismatch = (message: string) => ({ statusCode: 422, code: 'QUIVER_SCHEMA_MISMATCH', error: 'Unprocessable Entity', message: `Schema does not match the topic: ${message}` })
const schemaError = (message: string) => ({ statusCode: 400, code: 'QUIVER_INVALID_SCHEMA', error: 'Bad Request', message: `Invalid schema: ${message}` })
const topicNotFound = (name: string) => ({ statusCode: 404, code: 'QUIVER_TOPIC_NOT_FOUND', error: 'Not Found', message: `Topic "${name}" does not exist` })
const ok = (topic: string, rows: number, batches: number, bytes: number, ack = 'durable') => ({ topic, rows, batches, bytes, ack })

t.test('hostile Arrow shapes get a clear answer; refused ones store nothing', async (t) => {
  const { dataDir, token } = preparedDataDir(t)
  const gw = await startGateway(t, {
    DATA_DIR: dataDir,
    FLUSH_INTERVAL_MS: '100',
    MAX_REQUEST_BYTES: String(MAX_REQUEST),
    // zstd's first flush of 10,000 columns in an encoder thread costs 13–30 s (parquet-wasm growing its memory).
    PARQUET_COMPRESSION: LONG ? 'zstd' : 'snappy'
  }, { timeoutMs: 60_000 })
  const writer = token(['write'], 'hostile-writer')
  const admin = token(['admin'], 'hostile-admin')

  async function api (method: string, path: string, body?: unknown): Promise<{ status: number, body: unknown }> {
    const res = await request(`${gw.url}${path}`, {
      method: method as 'GET',
      headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const text = await res.body.text()
    return { status: res.statusCode, body: text === '' ? null : JSON.parse(text) }
  }
  async function post (topic: string, ipc: Uint8Array, o: { ack?: string } = {}): Promise<{ status: number, body: unknown }> {
    const payload = Buffer.from(ipc.buffer, ipc.byteOffset, ipc.byteLength)
    const res = await request(`${gw.url}/v1/topics/${topic}/records?ack=${o.ack ?? 'durable'}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' },
      body: payload,
      headersTimeout: 60_000,
      bodyTimeout: 60_000
    })
    return { status: res.statusCode, body: await res.body.json() }
  }
  /** Rows on storage once every buffer is flushed. */
  async function stored (topic: string): Promise<number> {
    const flushed = await api('POST', '/v1/admin/flush')
    if (flushed.status !== 200) throw new Error(`flush: ${flushed.status} ${JSON.stringify(flushed.body)}`)
    return countLocalRows(join(dataDir, topic)).rows
  }
  /** Sends a stream that must be refused with exactly `expected`, and checks nothing of it was stored. */
  async function refused (t: Test, topic: string, ipc: Uint8Array, expected: { statusCode: number }): Promise<void> {
    const before = await stored(topic)
    t.same(await post(topic, ipc), { status: expected.statusCode, body: expected })
    t.equal(await stored(topic), before, 'nothing stored')
  }
  const idsAndNames = (topic: string) => new Map(localRows(dataDir, topic).map((r) => [Number(r.id), r.name]))

  // Built once: apache-arrow takes about a second to write 10,000 fields.
  const wide = wideStream(10_000)
  const tooWide = wideStream(10_001)
  // The message names the first 20 and counts the rest.
  const wideNames = Array.from({ length: 20 }, (_, i) => `c${i}`).join(', ') + ', … and 9980 more'
  t.equal((await api('POST', '/v1/topics', { name: 'events', schema: TEST_TOPIC_SCHEMA })).status, 201)
  t.equal((await api('POST', '/v1/topics', { name: 'huge', schema: TEST_TOPIC_SCHEMA })).status, 201)

  t.test('types nested 50 and 1,000 levels deep: 400 naming the path, no topic auto-created', async (t) => {
    for (const kind of ['struct', 'list'] as const) {
      for (const depth of [50, 1000]) {
        await refused(t, 'events', nestedStream(depth, kind), arrowError(`field "${deepPath(kind)}" is nested deeper than 32 levels`))
      }
      await refused(t, 'deep_auto', nestedStream(50, kind), arrowError(`field "${deepPath(kind)}" is nested deeper than 32 levels`))
    }
    t.same(await api('GET', '/v1/topics/deep_auto'), { status: 404, body: topicNotFound('deep_auto') })
    // The deepest a topic may be is accepted.
    const at = nestedStream(32, 'struct')
    t.same(await post('deep_ok', at), { status: 200, body: ok('deep_ok', 1, 1, at.byteLength) })
    t.equal(await stored('deep_ok'), 1)
    let leaf = localRows(dataDir, 'deep_ok')[0].deep as Record<string, unknown> | bigint
    for (let level = 1; level < 32; level++) leaf = (leaf as Record<string, unknown>).a as Record<string, unknown> | bigint
    t.equal(leaf, 7n, 'the leaf 32 levels down reads back')
  })

  t.test('10,000 columns: 422 naming every field against a narrower topic, accepted into an auto-created topic; 10,001 refused', async (t) => {
    await refused(t, 'events', wide, mismatch(`missing fields: id, ts (not null in the topic); unexpected fields: ${wideNames}`))
    // POST /v1/topics takes up to 10,000 fields, so a first stream of 10,000 columns creates its topic.
    const started = Date.now()
    t.same(await post('wide', wide), { status: 200, body: ok('wide', 2, 1, wide.byteLength) })
    t.comment(`10,000-column durable ingest into a new topic: ${Date.now() - started} ms`)
    const topic = await api('GET', '/v1/topics/wide') as { status: number, body: { schema: { fields: Array<{ name: string, type: string }> } } }
    t.equal(topic.body.schema.fields.length, 10_000)
    t.same(topic.body.schema.fields[9_999], { name: 'c9999', type: 'int32', nullable: true })
    const [file] = parquetFiles(join(dataDir, 'wide'))
    const table = readParquetTable(readFileSync(file))
    t.same([table.numRows, table.numCols, [...table.getChild('c0')!], [...table.getChild('c9999')!]], [2, 10_001, [0, 1], [9_999, 10_000]])
    for (const target of ['events', 'wide_over']) {
      await refused(t, target, tooWide, arrowError('the schema has 10001 fields; a topic holds at most 10000'))
    }
    t.same(await api('GET', '/v1/topics/wide_over'), { status: 404, body: topicNotFound('wide_over') })
  })

  t.test('zero-row batches: accepted with rows 0 and nothing stored; mixed with rows, counted exactly', async (t) => {
    const before = await stored('events')
    for (const [label, ipc] of [['schema only', ipcOf(TEST_ARROW_SCHEMA, [])], ['three empty batches', ipcOf(TEST_ARROW_SCHEMA, [makeBatch(0), makeBatch(0), makeBatch(0)])]] as const) {
      t.same(await post('events', ipc), { status: 200, body: ok('events', 0, 0, ipc.byteLength) }, label)
      t.same(await post('events', ipc, { ack: 'accepted' }), { status: 202, body: ok('events', 0, 0, ipc.byteLength, 'accepted') }, `${label}, ack=accepted`)
    }
    t.equal(await stored('events'), before)
    // Empty batches are not counted as batches: `batches` counts those that carried rows.
    const mixed = ipcOf(TEST_ARROW_SCHEMA, [makeBatch(0), makeBatch(3, 1000), makeBatch(0), makeBatch(4, 1003), makeBatch(0)])
    t.same(await post('events', mixed), { status: 200, body: ok('events', 7, 2, mixed.byteLength) })
    t.equal(await stored('events'), before + 7)
    const rows = idsAndNames('events')
    t.same([1000, 1001, 1002, 1003, 1004, 1005, 1006].map((id) => rows.get(id)), ['name-1000', 'name-1001', 'name-1002', 'name-1003', 'name-1004', 'name-1005', 'name-1006'])
    // A schema with no rows still creates its topic (the writer's first stream defines it) and stores nothing.
    const empty = ipcOf(TEST_ARROW_SCHEMA, [makeBatch(0)])
    t.same(await post('empty_auto', empty), { status: 200, body: ok('empty_auto', 0, 0, empty.byteLength) })
    t.same((await api('GET', '/v1/topics/empty_auto') as { body: { schema: unknown } }).body.schema, TEST_TOPIC_SCHEMA)
    t.same(await api('GET', '/v1/topics/empty_auto/files'), { status: 200, body: { files: [] } })
  })

  t.test('dictionary-encoded strings into a string column: stored as their values, through deltas and replacements', async (t) => {
    const before = await stored('events')
    const rgb = strings(['red', 'green', 'blue'])
    const plain = ipcOf(DICT_SCHEMA, [dictBatch(2000, [2, 0, 1, 1], rgb)])
    // apache-arrow writes a delta when a batch's dictionary extends the last one, a replacement when it is new.
    const delta = ipcOf(DICT_SCHEMA, [dictBatch(2100, [0, 1, 2], rgb), dictBatch(2103, [3, 4, 0], rgb.concat(strings(['cyan', 'magenta'])))])
    const replaced = ipcOf(DICT_SCHEMA, [dictBatch(2200, [0, 1, 2], rgb), dictBatch(2203, [1, 0], strings(['x', 'y']))])
    t.same(await post('events', plain), { status: 200, body: ok('events', 4, 1, plain.byteLength) })
    t.same(await post('events', delta), { status: 200, body: ok('events', 6, 2, delta.byteLength) })
    t.same(await post('events', replaced), { status: 200, body: ok('events', 5, 2, replaced.byteLength) })
    t.equal(await stored('events'), before + 15)
    const rows = idsAndNames('events')
    const got = (from: number, n: number) => Array.from({ length: n }, (_, k) => rows.get(from + k))
    t.same(got(2000, 4), ['blue', 'red', 'green', 'green'])
    t.same(got(2100, 6), ['red', 'green', 'blue', 'cyan', 'magenta', 'red'])
    t.same(got(2200, 5), ['red', 'green', 'blue', 'y', 'x'])
    // An index past the dictionary, also past a delta-extended one (apache-arrow reads it as null).
    await refused(t, 'events', ipcOf(DICT_SCHEMA, [dictBatch(2300, [0, 3], rgb)]), arrowError('column "name": dictionary index 3 at row 1 is out of range (the dictionary has 3 values)'))
    await refused(t, 'events', ipcOf(DICT_SCHEMA, [dictBatch(2400, [0], rgb), dictBatch(2401, [4, 5], rgb.concat(strings(['cyan', 'magenta'])))]),
      arrowError('column "name": dictionary index 5 at row 1 is out of range (the dictionary has 5 values)'))
    // An auto-created topic stores the values' type.
    t.same(await post('dict_auto', plain), { status: 200, body: ok('dict_auto', 4, 1, plain.byteLength) })
    t.same((await api('GET', '/v1/topics/dict_auto') as { body: { schema: unknown } }).body.schema, TEST_TOPIC_SCHEMA)
    t.same([...idsAndNames('dict_auto').values()], ['blue', 'red', 'green', 'green'])
  })

  t.test('a second schema in one stream: 400, nothing of the stream stored', async (t) => {
    const first = makeIpcStream(5, { start: 3000 })
    await refused(t, 'events', Buffer.concat([withoutEos(first), wideStream(3)]), arrowError('unexpected schema message at message 3'))
    await refused(t, 'events', Buffer.concat([withoutEos(first), first]), arrowError('unexpected schema message at message 3'))
    await refused(t, 'events', Buffer.concat([first, wideStream(3)]), arrowError('unexpected data after the end-of-stream marker (message 3)'))
    // Into a topic it would auto-create: not created either.
    await refused(t, 'switch_auto', Buffer.concat([withoutEos(first), wideStream(3)]), arrowError('unexpected schema message at message 3'))
    t.same(await api('GET', '/v1/topics/switch_auto'), { status: 404, body: topicNotFound('switch_auto') })
  })

  t.test('field names no topic may have: 400, no topic auto-created', async (t) => {
    const why = 'cannot be created from this stream\'s schema:'
    await refused(t, 'dup_auto', namedStream(['x', 'x']), schemaError(`topic "dup_auto" ${why} duplicate field "x"`))
    await refused(t, 'reserved_auto', namedStream(['__ingested_at']), schemaError(`topic "reserved_auto" ${why} field "__ingested_at" is reserved (added by the gateway)`))
    await refused(t, 'long_auto', namedStream(['n'.repeat(300)]), schemaError(`topic "long_auto" ${why} field name "${'n'.repeat(40)}…" is longer than 255 characters`))
    for (const name of ['dup_auto', 'reserved_auto', 'long_auto']) t.same(await api('GET', `/v1/topics/${name}`), { status: 404, body: topicNotFound(name) })
  })

  t.test('a 64 MiB string: stored whole under MAX_REQUEST_BYTES, 413 over it', async (t) => {
    const text = hugeText(64 * MiB)
    const ipc = oneRowWithName(4000, text)
    const started = Date.now()
    t.same(await post('huge', ipc), { status: 200, body: ok('huge', 1, 1, ipc.byteLength) })
    t.comment(`64 MiB value, durable: ${Date.now() - started} ms`)
    const [file] = parquetFiles(join(dataDir, 'huge'))
    const name = readParquetTable(readFileSync(file)).getChild('name')!.get(0) as string
    t.same([Buffer.byteLength(name), createHash('sha256').update(name).digest('hex')], [text.byteLength, createHash('sha256').update(text).digest('hex')])
    // 96 MiB in one value: refused on the announced length, or (chunked) on the length the message claims.
    const over = oneRowWithName(4001, Buffer.alloc(96 * MiB, 'a'))
    const first = over.subarray(0, MiB)
    const tooLarge = { statusCode: 413, code: 'QUIVER_PAYLOAD_TOO_LARGE', error: 'Payload Too Large', message: `Request body exceeds ${MAX_REQUEST} bytes` }
    const headers = { authorization: `Bearer ${writer}`, 'content-type': 'application/vnd.apache.arrow.stream' }
    for (const [how, send] of [
      ['content-length', () => earlyAnswer(gw.url, '/v1/topics/huge/records', { ...headers, 'content-length': String(over.byteLength) }, first)],
      ['chunked', () => earlyAnswer(gw.url, '/v1/topics/huge/records', { ...headers, 'transfer-encoding': 'chunked' }, chunk(first))]
    ] as const) {
      const res = await send()
      t.same([res.status, res.body], [413, tooLarge], how)
    }
    t.equal(await stored('huge'), 1, 'nothing of the refused ones stored')
  })

  t.test('over WebSocket: an error frame for each refused message, the connection stays open, the next good one is acked', async (t) => {
    const ws = await connect(`${gw.url.replace('http', 'ws')}/v1/topics/events/stream`, ['quiver.v1'], { authorization: `Bearer ${writer}` })
    t.teardown(() => ws.terminate())
    const got = frames(ws)
    const before = await stored('events')
    const rgb = strings(['red', 'green', 'blue'])
    const messages = [
      nestedStream(50, 'list'),
      wide,
      ipcOf(TEST_ARROW_SCHEMA, [makeBatch(0), makeBatch(0)]),
      ipcOf(DICT_SCHEMA, [dictBatch(5000, [0, 1], rgb), dictBatch(5002, [3], rgb.concat(strings(['cyan'])))]),
      Buffer.concat([withoutEos(makeIpcStream(4, { start: 5100 })), wideStream(3)]),
      ipcOf(DICT_SCHEMA, [dictBatch(5200, [0], rgb), dictBatch(5201, [9], rgb.concat(strings(['cyan'])))]),
      makeIpcStream(10, { start: 5300 })
    ]
    for (const m of messages) ws.send(m)
    const error = (seq: number, body: { code: string, message: string }) => ({ type: 'error', seq, code: body.code, message: body.message })
    t.same(await got.next(messages.length, 60_000), [
      error(1, arrowError(`field "${deepPath('list')}" is nested deeper than 32 levels`)),
      error(2, mismatch(`missing fields: id, ts (not null in the topic); unexpected fields: ${wideNames}`)),
      { type: 'ack', seq: 3, rows: 0 },
      { type: 'ack', seq: 4, rows: 3 },
      error(5, arrowError('unexpected schema message at message 3')),
      error(6, arrowError('column "name": dictionary index 9 at row 0 is out of range (the dictionary has 4 values)')),
      { type: 'ack', seq: 7, rows: 10 }
    ])
    t.equal(ws.readyState, ws.OPEN, 'still open')
    t.equal(await stored('events'), before + 13)
    const rows = idsAndNames('events')
    t.same([5000, 5001, 5002, 5300, 5309, 5100, 5200].map((id) => rows.get(id)), ['red', 'green', 'cyan', 'name-5300', 'name-5309', undefined, undefined])
  })

  t.test('the gateway survived all of it: alive, healthy, no error logged, memory bounded', async (t) => {
    t.equal(gw.proc.exitCode, null)
    t.same(await api('GET', '/healthz'), { status: 200, body: { status: 'ok' } })
    const logs = gw.stdout() + gw.stderr()
    t.same(logs.split('\n').filter((l) => /"level":(50|60)/.test(l)).slice(0, 3), [], 'no error-level log lines')
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${gw.proc.pid}/status`, 'utf8'))![1]) * 1024
    t.ok(hwm < RSS_LIMIT, `gateway peak RSS ${(hwm / MiB).toFixed(0)} MiB`)
  })
})
