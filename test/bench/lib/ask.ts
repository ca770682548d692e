import type { ChildProcess } from 'node:child_process'

/**
 * One request/answer with a bench child process over its IPC channel: sends `msg`, resolves with
 * the next message, rejects on an `{ error }` answer or if the child exits first. `who` names the
 * child in that rejection.
 */
export function ask<T> (child: ChildProcess, msg: object, who = 'child process'): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number) => reject(new Error(`${who} exited with ${code}`))
    child.once('exit', onExit)
    child.once('message', (m) => {
      child.off('exit', onExit)
      if ((m as { error?: string }).error) reject(new Error((m as { error: string }).error))
      else resolve(m as T)
    })
    child.send(msg)
  })
}
