import type { WebSocket } from 'ws'
import { CLOSE } from './frames.ts'

type Drain = (code: number, reason: string) => Promise<void>

// Keyed by socket so the registry forgets connections on its own once they are gone.
const drains = new WeakMap<WebSocket, Drain>()

/** Lets a connection finish its work (e.g. ack in-flight messages) before a server shutdown closes it. */
export function onServerClose (socket: WebSocket, drain: Drain): void {
  drains.set(socket, drain)
}

/**
 * Closes every client with 1001 (going away), first letting registered connections drain.
 * Whatever is still open after `timeoutMs` is terminated so shutdown cannot hang on a peer.
 */
export async function closeClients (clients: Iterable<WebSocket>, timeoutMs: number): Promise<void> {
  const all = [...clients]
  const closing = all.map(async (socket) => {
    const drain = drains.get(socket)
    if (drain) return drain(CLOSE.goingAway, 'server shutting down')
    socket.close(CLOSE.goingAway, 'server shutting down')
  })
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })
  await Promise.race([Promise.allSettled(closing), timeout])
  clearTimeout(timer)
  for (const socket of all) if (socket.readyState !== 3) socket.terminate()
}
