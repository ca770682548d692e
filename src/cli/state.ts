import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'

/**
 * Which chunks of an input file the gateway acknowledged, persisted after every ack (write to a
 * temporary file, then rename, so a kill never leaves a torn file). Chunks are cut
 * deterministically (same file, format and --batch-rows give the same chunks), so a rerun with the
 * same state skips exactly the acknowledged ones and sends everything else: no gap. A chunk the
 * gateway committed but whose ack never arrived is sent again: duplicates are possible, at most
 * the chunks that were in flight when the run stopped.
 */
export interface StateIdentity {
  file: string
  size: number
  mtimeMs: number
  topic: string
  format: string
  batchRows: number
}

interface StateFile extends StateIdentity {
  version: 1
  /** Every chunk index below this one is acknowledged. */
  watermark: number
  /** Acknowledged chunks at or above the watermark. */
  acked: number[]
  rowsAcked: number
  complete: boolean
}

export class SendState {
  private readonly acked = new Set<number>()
  private watermark = 0
  rowsAcked = 0
  complete = false

  private constructor (readonly path: string | null, readonly id: StateIdentity) {}

  static identity (file: string, topic: string, format: string, batchRows: number): StateIdentity {
    const st = statSync(file)
    return { file: resolve(file), size: st.size, mtimeMs: st.mtimeMs, topic, format, batchRows }
  }

  /** Opens `path` (resuming when it exists and describes the same input), or a fresh state. */
  static open (path: string | null, id: StateIdentity, resume: boolean): SendState {
    const state = new SendState(path, id)
    if (!path || !resume) return state
    let saved: StateFile
    try {
      saved = JSON.parse(readFileSync(path, 'utf8')) as StateFile
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return state
      throw new Error(`cannot read the state file ${path}: ${(err as Error).message}`)
    }
    for (const k of ['file', 'size', 'mtimeMs', 'topic', 'format', 'batchRows'] as const) {
      if (saved[k] !== id[k]) {
        throw new Error(`the state file ${path} belongs to another run (${k}: ${saved[k]} ≠ ${id[k]}); delete it or pick another path`)
      }
    }
    state.watermark = saved.watermark
    for (const i of saved.acked) state.acked.add(i)
    state.rowsAcked = saved.rowsAcked
    state.complete = saved.complete
    return state
  }

  isAcked (index: number): boolean {
    return index < this.watermark || this.acked.has(index)
  }

  markAcked (index: number, rows: number): void {
    if (this.isAcked(index)) return
    this.acked.add(index)
    this.rowsAcked += rows
    while (this.acked.delete(this.watermark)) this.watermark++
    this.save()
  }

  finish (): void {
    this.complete = true
    this.save()
  }

  save (): void {
    if (!this.path) return
    const body: StateFile = {
      version: 1,
      ...this.id,
      watermark: this.watermark,
      acked: [...this.acked].sort((a, b) => a - b),
      rowsAcked: this.rowsAcked,
      complete: this.complete
    }
    const tmp = `${this.path}.${process.pid}.tmp`
    writeFileSync(tmp, JSON.stringify(body) + '\n')
    renameSync(tmp, this.path)
  }
}
