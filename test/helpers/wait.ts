import { setTimeout as pause } from 'node:timers/promises'

/**
 * Resolves once `condition()` holds, checked every `everyMs`; rejects naming `what` after
 * `timeoutMs`. For a state with no event to listen to: the test waits exactly as long as the
 * state takes, instead of sleeping for a guessed time.
 */
export async function waitFor (condition: () => boolean | Promise<boolean>, what: string, o: { timeoutMs?: number, everyMs?: number } = {}): Promise<void> {
  const deadline = performance.now() + (o.timeoutMs ?? 30_000)
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await pause(o.everyMs ?? 5)
  }
}
