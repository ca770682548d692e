import { open, mkdir, rename, link, unlink, readFile, readdir, stat, access, constants } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { dirname, join, resolve } from 'node:path'
import type { Storage, ObjectInfo } from './types.ts'
import { assertKey, silentLog, type StorageLog } from './log.ts'

/** Prefix of in-flight files; never listed, removed at startup when stale. */
export const TEMP_PREFIX = '.tmp-'

export interface FsStorageOptions {
  dir: string
  log?: StorageLog
  /** Temp files older than this are leftovers of a crash (another instance may share the dir). */
  staleTempMs?: number
}

async function syncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try { await fh.sync() } finally { await fh.close() }
}

async function removeQuietly (path: string): Promise<void> {
  await unlink(path).catch(() => {})
}

function isCode (err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException)?.code === code
}

/**
 * Local directory sink. Every object is written to a temp file in its final directory, fsynced,
 * then renamed (or hard-linked for exclusive creates) into place and the directory fsynced, so a
 * reader or a crash sees the whole object or nothing.
 */
export async function createFsStorage (opts: FsStorageOptions): Promise<Storage> {
  const root = resolve(opts.dir)
  const log = opts.log ?? silentLog
  await mkdir(root, { recursive: true })

  const pathOf = (key: string): string => {
    assertKey(key)
    return join(root, ...key.split('/'))
  }

  /** Writes the body to a fsynced temp file next to `final` and returns its path. */
  async function writeTemp (final: string, body: Uint8Array | AsyncIterable<Uint8Array>): Promise<{ tmp: string, bytes: number }> {
    const dir = dirname(final)
    await mkdir(dir, { recursive: true })
    const tmp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`)
    const fh = await open(tmp, 'wx')
    let bytes = 0
    try {
      if (body instanceof Uint8Array) {
        await fh.writeFile(body)
        bytes = body.byteLength
      } else {
        for await (const chunk of body) {
          await fh.write(chunk)
          bytes += chunk.byteLength
        }
      }
      await fh.sync()
    } catch (err) {
      await fh.close().catch(() => {})
      await removeQuietly(tmp)
      throw err
    }
    await fh.close()
    return { tmp, bytes }
  }

  async function commit (final: string, body: Uint8Array | AsyncIterable<Uint8Array>): Promise<number> {
    const { tmp, bytes } = await writeTemp(final, body)
    try {
      await rename(tmp, final)
    } catch (err) {
      await removeQuietly(tmp)
      throw err
    }
    await syncDir(dirname(final))
    return bytes
  }

  async function * walk (dir: string, keyPrefix: string): AsyncGenerator<ObjectInfo> {
    let entries
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch (err) {
      if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return
      throw err
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const e of entries) {
      if (e.name.startsWith(TEMP_PREFIX)) continue
      const key = keyPrefix + e.name
      if (e.isDirectory()) {
        yield * walk(join(dir, e.name), key + '/')
      } else if (e.isFile()) {
        const s = await stat(join(dir, e.name)).catch(() => null)
        if (s) yield { key, bytes: s.size, lastModified: s.mtime }
      }
    }
  }

  async function cleanTemps (dir: string, olderThan: number): Promise<number> {
    let removed = 0
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = join(dir, e.name)
      if (e.isDirectory()) removed += await cleanTemps(p, olderThan)
      else if (e.name.startsWith(TEMP_PREFIX)) {
        const s = await stat(p).catch(() => null)
        if (s && s.mtimeMs < olderThan) {
          await removeQuietly(p)
          removed++
        }
      }
    }
    return removed
  }

  const removed = await cleanTemps(root, Date.now() - (opts.staleTempMs ?? 60_000))
  if (removed > 0) log.info({ removed, dir: root }, 'removed stale temp files')

  return {
    kind: 'fs',
    location: root,
    async put (key, body) {
      await commit(pathOf(key), body)
    },
    async putStream (key, body) {
      return { bytes: await commit(pathOf(key), body) }
    },
    async createExclusive (key, body) {
      const final = pathOf(key)
      // Cheap early answer; the link below is what actually decides.
      if (await access(final).then(() => true, () => false)) return false
      const { tmp } = await writeTemp(final, body)
      try {
        await link(tmp, final)
      } catch (err) {
        if (isCode(err, 'EEXIST')) return false
        throw err
      } finally {
        await removeQuietly(tmp)
      }
      await syncDir(dirname(final))
      return true
    },
    async get (key) {
      try {
        return new Uint8Array(await readFile(pathOf(key)))
      } catch (err) {
        if (isCode(err, 'ENOENT') || isCode(err, 'EISDIR')) return null
        throw err
      }
    },
    async getRange (key, start, end) {
      let fh
      try {
        fh = await open(pathOf(key), 'r')
      } catch (err) {
        if (isCode(err, 'ENOENT') || isCode(err, 'EISDIR')) return null
        throw err
      }
      try {
        const out = new Uint8Array(Math.max(0, end - start))
        let at = 0
        while (at < out.byteLength) {
          const { bytesRead } = await fh.read(out, at, out.byteLength - at, start + at)
          if (bytesRead === 0) break
          at += bytesRead
        }
        return out.subarray(0, at)
      } finally {
        await fh.close()
      }
    },
    list (prefix) {
      // Start at the deepest directory the prefix names, then filter on the full key.
      const cut = prefix.lastIndexOf('/')
      const dirKey = cut >= 0 ? prefix.slice(0, cut + 1) : ''
      if (dirKey !== '') assertKey(dirKey.slice(0, -1))
      const start = dirKey === '' ? root : join(root, ...dirKey.slice(0, -1).split('/'))
      return (async function * () {
        for await (const info of walk(start, dirKey)) {
          if (info.key.startsWith(prefix)) yield info
        }
      })()
    },
    async delete (key) {
      await unlink(pathOf(key)).catch((err) => { if (!isCode(err, 'ENOENT')) throw err })
    },
    async check () {
      await access(root, constants.W_OK)
      if (!(await stat(root)).isDirectory()) throw new Error(`${root} is not a directory`)
    },
    async close () {}
  }
}
