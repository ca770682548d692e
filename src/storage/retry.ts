import type { Storage, ObjectInfo } from './types.ts'
import { silentLog, type StorageLog } from './log.ts'

export interface RetryOptions {
  /** Total tries per operation, the first included. */
  attempts?: number
  baseMs?: number
  capMs?: number
  /** No retry starts once this much time has gone by since the first try. */
  maxElapsedMs?: number
  /** Called for every failed try (metrics: uploadErrors). */
  onError?: (err: unknown, info: { op: string, attempt: number, willRetry: boolean }) => void
  log?: StorageLog
  random?: () => number
  sleep?: (ms: number) => Promise<void>
  /** Milliseconds on a monotonic clock, for the elapsed-time budget (default performance.now: a wall clock may jump). */
  now?: () => number
}

export interface RetryingStorage extends Storage {
  /** False after an operation finally failed, true again after the next success. */
  readonly healthy: boolean
}

const RETRYABLE_NAMES = new Set([
  'SlowDown', 'Throttling', 'ThrottlingException', 'RequestThrottled', 'TooManyRequestsException',
  'RequestTimeout', 'RequestTimeoutException', 'TimeoutError', 'InternalError', 'ServiceUnavailable',
  'NetworkingError', 'ECONNRESET'
])
const RETRYABLE_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  'EAI_AGAIN', 'ENOTFOUND', 'EBUSY', 'EAGAIN', 'EMFILE', 'ENFILE', 'EIO'
])

/** Network trouble, 5xx, throttling: worth another try. 4xx (AccessDenied, NoSuchBucket…) is not. */
export function isRetryable (err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false
  const e = err as { name?: string, code?: string, $metadata?: { httpStatusCode?: number }, $retryable?: unknown, cause?: unknown }
  const status = e.$metadata?.httpStatusCode
  if (status !== undefined && status >= 500) return true
  if (status === 429) return true
  if (e.name && RETRYABLE_NAMES.has(e.name)) return true
  if (e.code && (RETRYABLE_CODES.has(e.code) || e.code.startsWith('UND_ERR_'))) return true
  if (e.$retryable) return true
  if (status !== undefined && status >= 400) return false
  return e.cause !== undefined && e.cause !== err && isRetryable(e.cause)
}

/** Full jitter: uniform in [0, min(cap, base·2^(attempt-1))]. */
export function backoffDelay (attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** (attempt - 1)))
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Retries with exponential backoff and full jitter around a sink that only sends. `putStream`
 * is tried once (its iterable cannot be replayed: the caller still holds the data and decides);
 * `list` is retried only until it has yielded its first entry.
 */
export function withRetry (inner: Storage, opts: RetryOptions = {}): RetryingStorage {
  const attempts = opts.attempts ?? 5
  const baseMs = opts.baseMs ?? 100
  const capMs = opts.capMs ?? 2000
  const maxElapsedMs = opts.maxElapsedMs ?? 20_000
  const random = opts.random ?? Math.random
  const sleep = opts.sleep ?? defaultSleep
  const now = opts.now ?? (() => performance.now())
  const log = opts.log ?? silentLog
  let healthy = true

  function settle (ok: boolean, op: string, err?: unknown) {
    if (ok && !healthy) log.info({ op }, 'storage recovered')
    if (!ok && healthy) log.error({ op, err: { name: (err as Error)?.name, message: (err as Error)?.message } }, 'storage failing')
    healthy = ok
  }

  async function run<T> (op: string, fn: () => Promise<T>, maxTries = attempts): Promise<T> {
    const started = now()
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await fn()
        settle(true, op)
        return result
      } catch (err) {
        const delay = backoffDelay(attempt, baseMs, capMs, random)
        const willRetry = attempt < maxTries && isRetryable(err) && now() - started + delay <= maxElapsedMs
        opts.onError?.(err, { op, attempt, willRetry })
        if (!willRetry) {
          settle(false, op, err)
          throw err
        }
        log.warn({ op, attempt, delay, err: { name: (err as Error)?.name, message: (err as Error)?.message } }, 'storage operation failed; retrying')
        await sleep(delay)
      }
    }
  }

  return {
    kind: inner.kind,
    location: inner.location,
    streamBufferBytes: inner.streamBufferBytes,
    get healthy () { return healthy },
    put: (key, body) => run('put', () => inner.put(key, body)),
    putStream: (key, body) => run('putStream', () => inner.putStream(key, body), 1),
    createExclusive: (key, body) => run('createExclusive', () => inner.createExclusive(key, body)),
    get: (key) => run('get', () => inner.get(key)),
    getRange: (key, start, end) => run('get', () => inner.getRange(key, start, end)),
    delete: (key) => run('delete', () => inner.delete(key)),
    list (prefix) {
      return (async function * (): AsyncGenerator<ObjectInfo> {
        let it!: AsyncIterator<ObjectInfo>
        const first = await run('list', async () => {
          it = inner.list(prefix)[Symbol.asyncIterator]()
          return await it.next()
        })
        if (first.done) return
        yield first.value
        for (let r = await it.next(); !r.done; r = await it.next()) yield r.value
      })()
    },
    // Readiness wants a quick honest answer, not retries; it also tells us storage is back.
    async check () {
      try {
        await inner.check()
        settle(true, 'check')
      } catch (err) {
        settle(false, 'check', err)
        throw err
      }
    },
    close: () => inner.close()
  }
}
