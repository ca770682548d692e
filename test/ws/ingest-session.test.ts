import { EventEmitter } from 'node:events'
import { test } from 'tap'
import type { WebSocket } from 'ws'
import { IngestSession } from '../../src/ws/ingest-session.ts'
import type { DecodedMessage, PreparedMessage } from '../../src/ingest/messages.ts'
import { InvalidArrowError, OverloadedError } from '../../src/errors.ts'
import { waitFor } from '../helpers/wait.ts'
import type { TopicRecord } from '../../src/schema/topic-schema.ts'

const topic: TopicRecord = { name: 't', schema: { fields: [{ name: 'a', type: 'int64', nullable: true }] }, createdAt: '2024-01-01T00:00:00.000Z' }

class FakeSocket extends EventEmitter {
  readyState = 1
  sent: unknown[] = []
  paused = false
  pauses = 0
  closed: { code: number, reason: string } | null = null
  send (data: string) { this.sent.push(JSON.parse(data)) }
  pause () { this.paused = true; this.pauses++ }
  resume () { this.paused = false }
  close (code: number, reason: string) {
    this.closed = { code, reason }
    this.readyState = 3
    setImmediate(() => this.emit('close', code, Buffer.from(reason)))
  }
}

/** A pipeline whose durable acks resolve when the test says so. */
function fakePipeline () {
  const waiting: Array<{ rows: number, resolve: () => void }> = []
  let capacity = true
  let capacityWaiters: Array<() => void> = []
  return {
    waiting,
    setCapacity (v: boolean) {
      capacity = v
      if (v) { for (const w of capacityWaiters) w(); capacityWaiters = [] }
    },
    hasCapacity: () => capacity,
    waitForCapacity: () => capacity ? Promise.resolve() : new Promise<void>((resolve) => capacityWaiters.push(resolve)),
    ingest: (_t: TopicRecord, batches: unknown[]) => new Promise<{ rows: number, batches: number }>((resolve) => {
      const rows = (batches as Array<{ numRows: number }>).reduce((n, b) => n + b.numRows, 0)
      waiting.push({ rows, resolve: () => resolve({ rows, batches: batches.length }) })
    })
  }
}

/** Messages are one byte: its value is the row count; 0 means "bad Arrow". */
function decode (bytes: Uint8Array): Promise<DecodedMessage> {
  if (bytes[0] === 0) return Promise.reject(new InvalidArrowError('garbage'))
  return Promise.resolve({ schema: null as never, batches: [{ numRows: bytes[0] } as never], rows: bytes[0], bytes: 1 })
}
const accept = async (msg: DecodedMessage): Promise<PreparedMessage> => ({ topic, batches: msg.batches, rows: msg.rows, bytes: msg.bytes })
const prepare = { decode, accept }

const log = { debug () {}, warn () {} }
const tick = () => new Promise((resolve) => setImmediate(resolve))

test('acks leave in sequence order even when later messages are durable first', async (t) => {
  const socket = new FakeSocket()
  const pipeline = fakePipeline()
  const session = new IngestSession(socket as unknown as WebSocket, { ...prepare, pipeline, maxInflight: 8, log })
  t.equal(session.inflight, 0)
  for (const n of [1, 2, 3]) socket.emit('message', Buffer.from([n]), true)
  await tick()
  t.equal(pipeline.waiting.length, 3, 'all three staged in the pipeline')
  t.same(pipeline.waiting.map((w) => w.rows), [1, 2, 3], 'joined the pipeline in sequence order')
  pipeline.waiting[2].resolve()
  pipeline.waiting[1].resolve()
  await tick()
  t.same(socket.sent, [], 'nothing sent while seq 1 is pending')
  pipeline.waiting[0].resolve()
  await tick()
  t.same(socket.sent, [
    { type: 'ack', seq: 1, rows: 1 },
    { type: 'ack', seq: 2, rows: 2 },
    { type: 'ack', seq: 3, rows: 3 }
  ])
})

test('bad message and text frame get error frames in order; the next message is acked; a text frame takes no seq', async (t) => {
  const socket = new FakeSocket()
  const pipeline = fakePipeline()
  const session = new IngestSession(socket as unknown as WebSocket, { ...prepare, pipeline, maxInflight: 8, log })
  socket.emit('message', Buffer.from([0]), true)
  t.equal(session.inflight, 1)
  socket.emit('message', Buffer.from('hello'), false)
  socket.emit('message', Buffer.from([5]), true)
  await tick()
  pipeline.waiting[0].resolve()
  await tick()
  t.same(socket.sent, [
    { type: 'error', seq: 1, code: 'QUIVER_INVALID_ARROW', message: 'Invalid Arrow IPC data: garbage' },
    { type: 'error', seq: 0, code: 'QUIVER_TEXT_FRAME', message: 'Text frames are not accepted: send each Arrow IPC stream as one binary message' },
    { type: 'ack', seq: 2, rows: 5 }
  ])
  t.equal(socket.closed, null, 'connection stays open')
})

test('pauses at the in-flight limit and while the pipeline is full, resumes after', async (t) => {
  const socket = new FakeSocket()
  const pipeline = fakePipeline()
  const session = new IngestSession(socket as unknown as WebSocket, { ...prepare, pipeline, maxInflight: 2, log })
  socket.emit('message', Buffer.from([1]), true)
  t.equal(socket.paused, false)
  t.equal(session.inflight, 1)
  socket.emit('message', Buffer.from([1]), true)
  t.equal(socket.paused, true, 'paused at 2 in flight')
  await tick()
  pipeline.waiting[0].resolve()
  await tick()
  t.equal(socket.paused, false, 'resumed once one was acked')

  pipeline.setCapacity(false)
  socket.emit('message', Buffer.from([7]), true)
  await tick()
  t.equal(socket.paused, true, 'paused while the pipeline has no capacity')
  t.equal(pipeline.waiting.length, 2, 'the message waits for capacity instead of failing')
  pipeline.setCapacity(true)
  await tick()
  t.equal(pipeline.waiting.length, 3, 'ingested once capacity returned')
  pipeline.waiting[1].resolve()
  pipeline.waiting[2].resolve()
  await tick()
  t.equal(socket.paused, false)
  t.same(socket.sent.map((f) => (f as { seq: number }).seq), [1, 2, 3])
})

test('an overloaded ingest is retried after capacity returns, never dropped', async (t) => {
  const socket = new FakeSocket()
  const pipeline = fakePipeline()
  let refusals = 1
  const ingest = pipeline.ingest
  pipeline.ingest = (tp, batches) => {
    if (refusals-- > 0) return Promise.reject(new OverloadedError())
    return ingest(tp, batches)
  }
  const session = new IngestSession(socket as unknown as WebSocket, { ...prepare, pipeline, maxInflight: 4, log })
  socket.emit('message', Buffer.from([3]), true)
  t.equal(session.inflight, 1)
  await waitFor(() => pipeline.waiting.length === 1, 'the refused ingest retried')
  pipeline.waiting[0].resolve()
  await tick()
  t.same(socket.sent, [{ type: 'ack', seq: 1, rows: 3 }])
})

test('token expiry: in-flight messages are acked, later ones refused, then close 1008', async (t) => {
  const socket = new FakeSocket()
  const pipeline = fakePipeline()
  const session = new IngestSession(socket as unknown as WebSocket, { ...prepare, pipeline, maxInflight: 8, log, expiresAt: Date.now() + 50 })
  t.equal(session.inflight, 0)
  socket.emit('message', Buffer.from([4]), true)
  await waitFor(() => socket.paused, 'the session to stop reading at expiry')
  socket.emit('message', Buffer.from([9]), true)
  socket.emit('message', Buffer.from('hello'), false)
  t.equal(socket.closed, null, 'waits for the in-flight ack')
  pipeline.waiting[0].resolve()
  await tick()
  t.same(socket.sent, [
    { type: 'ack', seq: 1, rows: 4 },
    { type: 'error', seq: 2, code: 'QUIVER_UNAUTHORIZED', message: 'Message not accepted: token expired' },
    { type: 'error', seq: 0, code: 'QUIVER_UNAUTHORIZED', message: 'Message not accepted: token expired' }
  ], 'a text frame takes no seq while closing either')
  t.same(socket.closed, { code: 1008, reason: 'token expired' })
})

test('finish() drains then closes with the given code', async (t) => {
  const socket = new FakeSocket()
  const pipeline = fakePipeline()
  const session = new IngestSession(socket as unknown as WebSocket, { ...prepare, pipeline, maxInflight: 8, log })
  socket.emit('message', Buffer.from([2]), true)
  await tick()
  const done = session.finish(1001, 'server shutting down')
  t.equal(socket.closed, null)
  pipeline.waiting[0].resolve()
  await done
  t.same(socket.sent, [{ type: 'ack', seq: 1, rows: 2 }])
  t.same(socket.closed, { code: 1001, reason: 'server shutting down' })
})

/** A pipeline that refuses the next `refusals.left` ingests as overloaded (room left, but not enough for the message). */
function refusing (left: number) {
  const pipeline = fakePipeline()
  const refusals = { left }
  const ingest = pipeline.ingest
  pipeline.ingest = (tp, batches) => refusals.left-- > 0 ? Promise.reject(new OverloadedError()) : ingest(tp, batches)
  return { pipeline, refusals }
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

test('waiting out full buffers (slow storage) longer than the overload patience does not fail the message', async (t) => {
  const socket = new FakeSocket()
  const { pipeline } = refusing(1)
  pipeline.setCapacity(false)
  const session = new IngestSession(socket as unknown as WebSocket, { ...prepare, pipeline, maxInflight: 4, log, overloadPatienceMs: 30 })
  socket.emit('message', Buffer.from([3]), true)
  // Not a synchronisation: the test is that waiting longer than the patience (30 ms) for room
  // fails nothing, so that time must pass (there is no event for "nothing happened").
  await sleep(80)
  t.equal(session.inflight, 1)
  t.equal(socket.paused, true, 'not read further while the buffers are full')
  pipeline.setCapacity(true) // room again, but the first try does not fit
  await waitFor(() => pipeline.waiting.length === 1, 'the message retried and staged')
  pipeline.waiting[0].resolve()
  await tick()
  t.same(socket.sent, [{ type: 'ack', seq: 1, rows: 3 }])
})

test('a message refused as overloaded for the whole patience fails with QUIVER_OVERLOADED; the next one is acked', async (t) => {
  const socket = new FakeSocket()
  const { pipeline, refusals } = refusing(Infinity)
  const session = new IngestSession(socket as unknown as WebSocket, { ...prepare, pipeline, maxInflight: 4, log, overloadPatienceMs: 40 })
  socket.emit('message', Buffer.from([3]), true)
  await tick()
  t.equal(socket.paused, true, 'not read further while the message is refused')
  await waitFor(() => socket.sent.length > 0, 'the message to fail once its patience ran out')
  t.same(socket.sent, [{ type: 'error', seq: 1, code: 'QUIVER_OVERLOADED', message: 'The gateway is buffering as much as it may; retry shortly' }])
  t.equal(socket.paused, false, 'reading again once it gave up')
  refusals.left = 0
  socket.emit('message', Buffer.from([2]), true)
  await tick()
  pipeline.waiting[0].resolve()
  await tick()
  t.same(socket.sent.at(-1), { type: 'ack', seq: 2, rows: 2 })
  t.equal(session.inflight, 0)
})
