import { RecordBatchReader, type RecordBatch, type Schema } from 'apache-arrow'
import './arrow-patches.ts'
import { DecimalPrecisionError, InvalidArrowError, PayloadTooLargeError, UnsupportedArrowTypeError, ValueOutOfRangeError } from '../errors.ts'
import { fromArrowMessage } from './unsupported.ts'
import { type ByteSource, type FrameLimits, IpcFramer, readMessageHeader } from './ipc-framing.ts'
import { ARROW_MAGIC, startsWithFileMagic } from './file-sniff.ts'
import { toIpcStream } from './encode.ts'
import { Slicer } from './json-slices.ts'
import { checkBatch, checkSchema } from './validate.ts'

export interface ReadLimits {
  /** Most bytes the body may have; beyond → PayloadTooLargeError (413). */
  maxBytes: number
  /**
   * Largest single IPC message (metadata + body); a length prefix claiming more is rejected as
   * InvalidArrowError (400) before anything is allocated. A plausible claim (under this) that
   * would take the body over maxBytes is a 413 instead. Default: max(maxBytes, 256 MiB).
   */
  maxMessageBytes?: number
  /**
   * Whether the stream must end with the end-of-stream marker (default true: every mainstream
   * writer sends it, and without it a body cut at a message boundary would look complete).
   */
  requireEos?: boolean
  /** Where message bodies spanning input chunks are copied (e.g. a BufferLease's alloc). */
  alloc?: (n: number) => Uint8Array
}

export interface ArrowPayload {
  /** The producer's schema (compare it with `matchSchema`, then `normaliseBatch` each batch). */
  schema: Schema
  /** Every non-empty record batch, in order (zero-row batches are dropped). */
  batches: RecordBatch[]
  /** Bytes read from the source. */
  bytes: number
  /** Total rows of `batches`. */
  rows: number
}

const DEFAULT_MAX_MESSAGE = 256 * 1024 * 1024

/**
 * End-of-stream markers an IPC file may repeat before its footer. The spec has one at most, but
 * @uwdata/flechette 2.6.0 writes two (its footer writer prepends another to the stream writer's),
 * and every other reader skips the region through the footer's offsets. A few KiB covers any
 * padding; more is refused as data after the marker, without scanning a body of zeros.
 */
const FILE_TRAILING_EOS_BYTES = 4096

function ours (err: unknown): boolean {
  return err instanceof InvalidArrowError || err instanceof PayloadTooLargeError || err instanceof UnsupportedArrowTypeError ||
    err instanceof DecimalPrecisionError || err instanceof ValueOutOfRangeError
}

/** Our own errors pass through; anything apache-arrow throws becomes a 400 naming its message. */
function wrap (err: unknown): Error {
  if (ours(err)) return err as Error
  const unsupported = fromArrowMessage((err as Error)?.message ?? '')
  if (unsupported !== null) return unsupported
  const msg = err instanceof RangeError && /call stack/.test(err.message)
    ? 'types nested too deeply'
    : (err as Error)?.message ?? String(err)
  return new InvalidArrowError(msg)
}

/**
 * Reads one Arrow IPC stream (schema, dictionaries, record batches) from a byte source, e.g. a
 * request body. Reads incrementally and counts bytes itself; every length prefix is checked
 * against the limits before the bytes behind it are buffered. All-or-nothing: resolves only
 * when the whole stream was read and checked; a truncated or corrupt stream rejects even if
 * earlier batches were fine.
 * @throws InvalidArrowError (garbage, truncated, lying lengths, no schema, nesting deeper than 32)
 * @throws PayloadTooLargeError over `maxBytes` (also when a header announces a body that would be)
 */
export async function readArrowStream (source: ByteSource | NodeJS.ReadableStream, limits: ReadLimits): Promise<ArrowPayload> {
  return await decodeFramed(source as ByteSource, framerLimits(limits))
}

async function decodeFramed (source: ByteSource, limits: FrameLimits): Promise<ArrowPayload> {
  // The whole request is held anyway (all-or-nothing), so frame it first, then decode the frames
  // with apache-arrow's synchronous reader: its async reader costs ~15 × more per message (async
  // generators per chunk), which dominated many small WebSocket messages.
  const framer = new IpcFramer(source, limits)
  const frames: Uint8Array[] = []
  try {
    for await (const frame of framer.frames()) frames.push(frame)
  } catch (err) {
    throw wrap(err)
  }
  if (framer.messages === 0) throw new InvalidArrowError('empty stream: no schema message')
  try {
    const reader = RecordBatchReader.from(frames)
    reader.open()
    if (reader.schema == null) throw new InvalidArrowError('empty stream: no schema message')
    const schema = reader.schema // read before iterating: the reader forgets it once done
    checkSchema(schema)
    const batches: RecordBatch[] = []
    let rows = 0
    // Each message costs ~15-25 µs to read (more with the garbage it leaves): a body of 200,000
    // one-row batches held the event loop 5 s in this loop. The frames are all here, so the
    // reader may stop between batches and let other requests run (SLICE_MS stretches).
    const slicer = new Slicer()
    for (const batch of reader) {
      await slicer.pause()
      if (batch.numRows === 0) continue
      checkBatch(batch)
      rows += batch.numRows
      batches.push(batch)
    }
    return { schema, batches, bytes: framer.bytes, rows }
  } catch (err) {
    throw wrap(err)
  }
}

function framerLimits (limits: ReadLimits): FrameLimits {
  return {
    maxBytes: limits.maxBytes,
    maxMessageBytes: limits.maxMessageBytes ?? Math.max(limits.maxBytes, DEFAULT_MAX_MESSAGE),
    requireEos: limits.requireEos ?? true,
    alloc: limits.alloc
  }
}

/**
 * One WebSocket message: a complete IPC stream in one buffer (the IPC file format is accepted
 * too, recognised by its magic). Same checks and errors as readArrowStream.
 */
export async function readArrowMessage (bytes: Uint8Array, limits: ReadLimits): Promise<ArrowPayload> {
  if (startsWithFileMagic(bytes)) return readArrowFile(bytes, limits)
  if (bytes.byteLength > limits.maxBytes) throw new PayloadTooLargeError(limits.maxBytes)
  return readArrowStream([bytes], limits)
}

/**
 * An Arrow IPC file (`application/vnd.apache.arrow.file`), whole in memory (bounded by maxBytes).
 * The messages between the leading magic and the footer are an IPC stream, read with the same
 * bounded framer (end-of-stream markers repeated before the footer are skipped); the footer's
 * block offsets are never trusted. Writers that leave the schema out of that region
 * (apache-arrow JS keeps it only in the footer) get it taken from the footer.
 */
export async function readArrowFile (bytes: Uint8Array, limits: ReadLimits): Promise<ArrowPayload> {
  const n = bytes.byteLength
  if (n > limits.maxBytes) throw new PayloadTooLargeError(limits.maxBytes)
  if (!startsWithFileMagic(bytes)) throw new InvalidArrowError('not an Arrow IPC file (missing ARROW1 magic at the start)')
  if (n < 8 + 10 || !ARROW_MAGIC.every((c, i) => bytes[n - 6 + i] === c)) {
    throw new InvalidArrowError('truncated Arrow IPC file (missing ARROW1 magic at the end)')
  }
  const footerLen = new DataView(bytes.buffer, bytes.byteOffset + n - 10, 4).getInt32(0, true)
  if (footerLen <= 0 || footerLen > n - 18) throw new InvalidArrowError(`invalid footer length ${footerLen}`)
  const region = bytes.subarray(8, n - 10 - footerLen)
  const parts = startsWithSchema(region) ? [region] : [footerSchemaMessage(bytes), region]
  // the footer proves completeness: the region needs no end-of-stream marker, and may repeat it
  const payload = await decodeFramed(parts, { ...framerLimits(limits), requireEos: false, trailingEos: FILE_TRAILING_EOS_BYTES })
  return { ...payload, bytes: n }
}

function startsWithSchema (region: Uint8Array): boolean {
  if (region.byteLength < 8) return false
  const dv = new DataView(region.buffer, region.byteOffset, region.byteLength)
  const at = dv.getInt32(0, true) === -1 ? 8 : 4
  const len = dv.getInt32(at - 4, true)
  if (len <= 0 || at + len > region.byteLength) return false
  try {
    return readMessageHeader(region.subarray(at, at + len)).headerType === 1
  } catch {
    return false
  }
}

/** The footer's schema as a stream schema message (the stream writer's output minus its end marker). */
function footerSchemaMessage (bytes: Uint8Array): Uint8Array {
  let schema: Schema
  try {
    const reader = RecordBatchReader.from(bytes)
    reader.open()
    schema = reader.schema
  } catch (err) {
    throw fromArrowMessage((err as Error).message) ?? new InvalidArrowError(`unreadable file footer: ${(err as Error).message}`)
  }
  if (schema == null) throw new InvalidArrowError('the file footer has no schema')
  const stream = toIpcStream([], schema)
  return stream.subarray(0, stream.byteLength - 8)
}

/** An Arrow IPC stream being read batch by batch (see openArrowStream). */
export interface ArrowBatchStream {
  /** The producer's schema, read and checked before the first batch. */
  schema: Schema
  /**
   * Every non-empty, checked record batch, as it arrives. Ends only after the end-of-stream
   * marker; a truncated or corrupt stream throws after the batches read before the damage.
   */
  batches: AsyncGenerator<RecordBatch>
  /** Bytes read from the source so far. */
  readonly bytes: number
  /** Rows yielded so far. */
  readonly rows: number
}

/**
 * Incremental twin of readArrowStream for bodies too large to hold: same framing, limits, checks
 * and errors, but batches are handed out as they are read. Resolves once the schema message was
 * read and checked. The caller owns all-or-nothing: what it did with earlier batches must be
 * undone if `batches` throws.
 */
export async function openArrowStream (source: ByteSource | NodeJS.ReadableStream, limits: ReadLimits): Promise<ArrowBatchStream> {
  const framer = new IpcFramer(source as ByteSource, framerLimits(limits))
  let failure: unknown = null
  async function * guarded (): AsyncGenerator<Uint8Array> {
    try {
      yield * framer.frames()
    } catch (err) {
      failure = err
      throw err
    }
  }
  let reader: RecordBatchReader
  try {
    reader = await RecordBatchReader.from(guarded())
    await reader.open()
    if (reader.schema == null) throw new InvalidArrowError('empty stream: no schema message')
    checkSchema(reader.schema)
  } catch (err) {
    throw wrap(failure ?? err)
  }
  if (failure !== null) throw wrap(failure)
  if (framer.messages === 0) throw new InvalidArrowError('empty stream: no schema message')
  const schema = reader.schema // read before iterating: the reader forgets it once done
  let rows = 0
  async function * batches (): AsyncGenerator<RecordBatch> {
    try {
      for await (const batch of reader) {
        if (failure !== null) break
        if (batch.numRows === 0) continue
        checkBatch(batch)
        rows += batch.numRows
        yield batch
      }
      /* c8 ignore next - defensive: apache-arrow reads until our framer reports the end */
      if (failure === null && !framer.ended) throw new InvalidArrowError('the reader stopped before the end of the stream')
    } catch (err) {
      throw wrap(failure ?? err)
    }
    if (failure !== null) throw wrap(failure)
  }
  return {
    schema,
    batches: batches(),
    get bytes () { return framer.bytes },
    get rows () { return rows }
  }
}
