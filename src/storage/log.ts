/** The slice of a pino logger the storage layer uses; keeps src/ free of Fastify types. */
export interface StorageLog {
  debug (obj: object, msg?: string): void
  info (obj: object, msg?: string): void
  warn (obj: object, msg?: string): void
  error (obj: object, msg?: string): void
}

const noop = () => {}
export const silentLog: StorageLog = { debug: noop, info: noop, warn: noop, error: noop }

/** Rejects keys that could escape the sink's root or alias another key. */
export function assertKey (key: string): void {
  if (key === '' || key.startsWith('/') || key.includes('\\') || key.includes('\0') ||
    key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`invalid storage key ${JSON.stringify(key)}`)
  }
}
