import type { Storage } from '../storage/types.ts'
import type { TopicRecord } from '../schema/topic-schema.ts'

/*
 * Where a topic's schema versions live (schema evolution). Version 1 is the record the topic was
 * created with, `_catalog/{topic}.json` (the catalog layout older gateways read, unchanged); every later version is an
 * object of its own, created exclusively (never overwritten), so the catalog keeps every
 * version and two gateways writing the same version number cannot both succeed:
 *
 *   _catalog/{topic}.versions/{createdAt ms}/{version, 10 digits}.json
 *
 * The folder is tied to the topic's incarnation (its createdAt): a topic deleted and created
 * again never inherits the old one's versions, even if their removal was cut short.
 */

export const CATALOG_PREFIX = '_catalog/'
const DIGITS = 10

export const baseKey = (name: string): string => `${CATALOG_PREFIX}${name}.json`

/** Folder of every incarnation's versions of a topic. */
export const versionsPrefix = (name: string): string => `${CATALOG_PREFIX}${name}.versions/`

/** Folder of one incarnation's versions (after the record it was created with). */
export function incarnationPrefix (base: Pick<TopicRecord, 'name' | 'createdAt'>): string {
  const ms = Date.parse(base.createdAt)
  return `${versionsPrefix(base.name)}${Number.isFinite(ms) ? ms : 0}/`
}

export function versionKey (base: Pick<TopicRecord, 'name' | 'createdAt'>, version: number): string {
  return `${incarnationPrefix(base)}${String(version).padStart(DIGITS, '0')}.json`
}

/** Version numbers stored for this incarnation (2, 3, …), ascending. */
export async function storedVersions (storage: Storage, base: Pick<TopicRecord, 'name' | 'createdAt'>): Promise<Array<{ version: number, key: string }>> {
  const prefix = incarnationPrefix(base)
  const out: Array<{ version: number, key: string }> = []
  for await (const o of storage.list(prefix)) {
    const m = /^(\d+)\.json$/.exec(o.key.slice(prefix.length))
    if (m) out.push({ version: Number(m[1]), key: o.key })
  }
  return out.sort((a, b) => a.version - b.version)
}
