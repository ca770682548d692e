import { rmSync, statSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Table, tableToIPC } from 'apache-arrow'
import { fromArrowSchema, toArrowSchema } from '../schema/types.ts'
import { createTopic, getTopic, type ApiClient } from './api.ts'
import { chunked, type Chunk } from './chunks.ts'
import { Progress, type Summary } from './progress.ts'
import { withRetry } from './retry.ts'
import { detectFormat, READERS, type Format } from './sources/index.ts'
import { SendState, type StateIdentity } from './state.ts'
import { createHttpTransport, type Transport } from './transport-http.ts'
import { createWsTransport } from './transport-ws.ts'

export interface SendOptions {
  file: string
  topic: string
  api: ApiClient
  format?: Format
  transport: 'http' | 'ws'
  batchRows: number
  inflight: number
  retries: number
  createTopic: boolean
  /** State file to resume from and record into; null records into a temporary file. */
  resume: string | null
  /** Send each batch with an idempotency key derived from the file and the batch number (default on). */
  keys: boolean
  progress: 'tty' | 'lines' | 'off'
  signal?: AbortSignal
  log: (line: string) => void
}

/** A run that stopped early; `statePath` holds what was acknowledged, for `--resume`. */
export class SendError extends Error {
  constructor (message: string, readonly statePath: string | null, readonly summary: Summary) {
    super(message)
    this.name = 'SendError'
  }
}

/**
 * Each batch's idempotency key: the file's identity (path, size, mtime), its format and batch size
 * (which decide how batches are cut) and the batch number. A rerun over the same file sends the
 * same batches with the same keys, so what the gateway stored before is replayed, not stored
 * again (README "Delivery guarantees"); a changed file gets other keys.
 */
export function batchKeys (id: StateIdentity): (index: number) => string {
  const file = createHash('sha256').update(JSON.stringify([id.file, id.size, id.mtimeMs, id.format, id.batchRows])).digest('hex').slice(0, 32)
  return (index) => `quiver-send-${file}-${index}`
}

export async function send (opts: SendOptions): Promise<Summary> {
  const started = Date.now()
  const format = opts.format ?? detectFormat(opts.file)
  const size = statSync(opts.file).size
  let retries = 0
  const onRetry = (what: string) => (err: Error, attempt: number, delay: number) => {
    retries++
    opts.log(`${what}: ${err.message}; retry ${attempt}/${opts.retries} in ${(delay / 1000).toFixed(1)} s`)
  }
  const record = await withRetry(() => getTopic(opts.api, opts.topic), { retries: opts.retries, signal: opts.signal, onRetry: onRetry('topic') })
  // The topic's schema drives CSV/JSON conversion; Arrow and Parquet carry their own.
  const schema = record ? toArrowSchema(record.schema) : null
  const position = { bytes: 0 }
  const chunks = chunked(READERS[format](opts.file, { batchRows: opts.batchRows, schema, position }), opts.batchRows)

  let first: IteratorResult<Chunk> | null = null
  if (!record && opts.createTopic) {
    first = await chunks.next()
    if (!first.done) {
      await createTopic(opts.api, opts.topic, fromArrowSchema(first.value.batches[0].schema).fields)
      opts.log(`created topic "${opts.topic}"`)
    }
  }

  const id = SendState.identity(opts.file, opts.topic, format, opts.batchRows)
  const statePath = opts.resume ?? join(tmpdir(), `quiver-send-${createHash('sha1').update(JSON.stringify(id)).digest('hex').slice(0, 12)}.json`)
  const state = SendState.open(statePath, id, opts.resume !== null)
  if (opts.resume && state.rowsAcked > 0) opts.log(`resuming: ${state.rowsAcked} rows already acknowledged`)
  const keyOf = opts.keys ? batchKeys(id) : () => undefined

  const transport: Transport = opts.transport === 'ws'
    ? createWsTransport(opts.api, opts.topic)
    : createHttpTransport(opts.api, opts.topic, opts.inflight)
  const stop = new AbortController()
  const onAbort = () => stop.abort()
  opts.signal?.addEventListener('abort', onAbort)

  const inflight = new Set<Promise<void>>()
  let fatal: Error | null = null
  let rows = 0
  let batches = 0
  let skipped = 0
  let wireBytes = 0
  let replayed = 0
  const summary = (): Summary => {
    const seconds = (Date.now() - started) / 1000
    return {
      topic: opts.topic,
      transport: opts.transport,
      rows,
      batches,
      skippedBatches: skipped,
      bytes: position.bytes,
      wireBytes,
      retries,
      seconds,
      rowsPerSecond: seconds > 0 ? rows / seconds : 0,
      mibPerSecond: seconds > 0 ? position.bytes / 1048576 / seconds : 0
    }
  }
  const progress = new Progress(size, () => ({ bytesRead: position.bytes, rowsAcked: rows, chunksAcked: batches, inflight: inflight.size, retries }), process.stderr, opts.progress)
  progress.start()

  const deliver = (chunk: Chunk) => {
    const ipc = tableToIPC(new Table(chunk.batches), 'stream')
    wireBytes += ipc.byteLength
    const key = keyOf(chunk.index)
    const p: Promise<void> = withRetry(() => transport.send(ipc, chunk.rows, key), {
      retries: opts.retries,
      signal: stop.signal,
      onRetry: onRetry(`batch ${chunk.index + 1}`)
    }).then((ack) => {
      if (ack.replayed === true) replayed++
      state.markAcked(chunk.index, chunk.rows)
      rows += chunk.rows
      batches++
    }, (err: Error) => {
      fatal ??= err
      stop.abort()
    }).finally(() => inflight.delete(p))
    inflight.add(p)
  }

  try {
    const all = async function * () {
      if (first && !first.done) yield first.value
      yield * chunks
    }
    for await (const chunk of all()) {
      if (stop.signal.aborted) break
      if (state.isAcked(chunk.index)) { skipped++; continue }
      deliver(chunk)
      while (inflight.size >= opts.inflight) await Promise.race(inflight)
    }
  } catch (err) {
    fatal ??= err as Error
    stop.abort()
  }
  await Promise.all(inflight)
  progress.stop()
  await transport.close()
  opts.signal?.removeEventListener('abort', onAbort)
  if (replayed > 0) opts.log(`${replayed} batch${replayed === 1 ? ' was' : 'es were'} already stored (sent before, acknowledgement lost): the gateway replayed the acknowledgement, nothing was stored twice`)

  if (fatal || opts.signal?.aborted) {
    state.save()
    throw new SendError((fatal as Error | null)?.message ?? 'interrupted', statePath, summary())
  }
  state.finish()
  if (opts.resume === null) rmSync(statePath, { force: true })
  return summary()
}
