import closeWithGrace from 'close-with-grace'
import type { FastifyBaseLogger } from 'fastify'

/**
 * Requests to stop, handled here rather than by close-with-grace, which exits(1) on a second
 * signal. A second one is ordinary: an impatient second Ctrl-C, npm leaving on the first one
 * (the launcher watch then asks again), a closing terminal adding SIGHUP. Each repeat is
 * logged and ignored; only SHUTDOWN_TIMEOUT_MS (or SIGKILL) cuts a flush short.
 */
export const STOP_SIGNALS = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM'] as const

export interface ShutdownOptions {
  delayMs: number
  log: FastifyBaseLogger
  /** Stops accepting, flushes every buffer, answers waiting clients. */
  close: () => Promise<void>
  /** What is still left when SHUTDOWN_TIMEOUT_MS is reached (for the log line that says so). */
  left?: () => ShutdownLeft
}

export interface ShutdownLeft {
  /** Rows acknowledged or being ingested that are not on storage yet. */
  bufferedRows: number
  bufferedBytes: number
  /** HTTP requests not answered yet. */
  openRequests: number
}

/**
 * The last line before exit 1 at SHUTDOWN_TIMEOUT_MS names what was left. Error level only when
 * rows were really left unflushed: a request still open with every buffer flushed loses nothing.
 */
export function logTimeout (log: FastifyBaseLogger, ms: number, left: ShutdownLeft | undefined): void {
  if (left === undefined) {
    log.error(`shutdown: not finished within SHUTDOWN_TIMEOUT_MS (${ms} ms): exiting`)
  } else if (left.bufferedRows > 0 || left.bufferedBytes > 0) {
    log.error(left, `shutdown: buffers not flushed within SHUTDOWN_TIMEOUT_MS (${ms} ms): exiting; ${left.bufferedRows} rows (${left.bufferedBytes} bytes) not on storage are lost`)
  } else {
    log.warn(left, `shutdown: every buffer was flushed, but ${left.openRequests} requests were still open at SHUTDOWN_TIMEOUT_MS (${ms} ms): exiting, their connections are cut`)
  }
}

/** Installs the handlers; returns `stop(reason)` for other reasons to leave (the launcher left). */
export function installShutdown (o: ShutdownOptions): (reason: string) => void {
  let reason = ''
  const grace = closeWithGrace({
    delay: o.delayMs,
    skip: [...STOP_SIGNALS],
    onTimeout: (ms: number) => {
      let left: ShutdownLeft | undefined
      try { left = o.left?.() } catch {}
      logTimeout(o.log, ms, left)
    }
  }, async ({ err }) => {
    if (err) reason ||= 'uncaught error'
    if (err) o.log.error({ err }, 'closing after an uncaught error')
    else o.log.info({ reason }, 'shutting down: flushing buffers')
    await o.close()
  })
  const stop = (why: string): void => {
    if (reason !== '') {
      o.log.warn({ reason: why, shuttingDownFor: reason }, 'already shutting down: the flush goes on')
      return
    }
    reason = why
    grace.close()
  }
  for (const signal of STOP_SIGNALS) process.on(signal, () => stop(signal))
  return stop
}
