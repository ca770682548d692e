/**
 * Open WebSocket connections per principal (ingest and tail together), so one identity cannot
 * hold the gateway's sockets and memory. Keys leave the map when their last connection closes.
 */
export class ConnectionLimit {
  #open = new Map<string, number>()
  constructor (readonly max: number) {}

  /** Whether one more connection of `key` would still be within the limit. */
  allows (key: string): boolean {
    return (this.#open.get(key) ?? 0) < this.max
  }

  /** Counts a connection; false (nothing counted) when `key` is at the limit. */
  acquire (key: string): boolean {
    const n = this.#open.get(key) ?? 0
    if (n >= this.max) return false
    this.#open.set(key, n + 1)
    return true
  }

  release (key: string): void {
    const n = (this.#open.get(key) ?? 0) - 1
    if (n <= 0) this.#open.delete(key)
    else this.#open.set(key, n)
  }

  get keys (): number {
    return this.#open.size
  }
}
