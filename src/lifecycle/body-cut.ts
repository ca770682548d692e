import { ShuttingDownError } from '../errors.ts'

/**
 * A request body that stops with ShuttingDownError once `signal` aborts (the shutdown's cut,
 * plugins/app/drain.ts), unless all of it had arrived by then (`arrived()`): a body still
 * trickling in would otherwise hold the shutdown to SHUTDOWN_TIMEOUT_MS and its client would get
 * no answer at all. A body that did arrive is read to its end and gets its real answer.
 *
 * The error comes out of `next()`, so the ingest's own error path answers (503
 * QUIVER_SHUTTING_DOWN, lingering close) and commits nothing of it, as for any refusal mid-body.
 * Nothing is destroyed here: the answer must still reach the client.
 */
export function cutOnShutdown (it: AsyncIterator<Uint8Array>, signal: AbortSignal, arrived: () => boolean): AsyncIterableIterator<Uint8Array> {
  // A next() of the source left pending by the cut: the source is told to stop only once it
  // settles (an async generator queues return() behind it, and it may never settle).
  let abandoned: Promise<unknown> | undefined
  const refused = (): boolean => signal.aborted && !arrived()
  const cut: AsyncIterableIterator<Uint8Array> = {
    [Symbol.asyncIterator]: () => cut,
    next () {
      if (refused()) return Promise.reject(new ShuttingDownError())
      const pending = it.next()
      if (arrived()) return pending
      return new Promise((resolve, reject) => {
        const onAbort = (): void => {
          if (arrived()) return // the rest is on its way: `pending` settles soon
          abandoned = pending.catch(() => {})
          reject(new ShuttingDownError())
        }
        signal.addEventListener('abort', onAbort, { once: true })
        pending.then((r) => {
          signal.removeEventListener('abort', onAbort)
          resolve(r)
        }, (err: unknown) => {
          signal.removeEventListener('abort', onAbort)
          reject(err)
        })
      })
    },
    async return (value?: unknown) {
      const stop = async (): Promise<void> => { await it.return?.(value) }
      if (abandoned === undefined) await stop()
      else abandoned.then(stop).catch(() => {})
      return { done: true, value: undefined }
    }
  }
  return cut
}
