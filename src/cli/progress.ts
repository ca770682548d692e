const MiB = 1024 * 1024

export interface ProgressSnapshot {
  bytesRead: number
  rowsAcked: number
  chunksAcked: number
  inflight: number
  retries: number
}

/**
 * Progress on stderr: a redrawn bar on a terminal, a plain line every few seconds otherwise
 * (CI logs, files). Both show input bytes, acknowledged rows, rows/s and an ETA from the bytes read.
 */
export class Progress {
  private readonly started = Date.now()
  private timer: NodeJS.Timeout | null = null
  private lastLine = 0

  constructor (
    private readonly totalBytes: number,
    private readonly snapshot: () => ProgressSnapshot,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly mode: 'tty' | 'lines' | 'off' = out.isTTY ? 'tty' : 'lines'
  ) {}

  start (): void {
    if (this.mode === 'off') return
    const every = this.mode === 'tty' ? 200 : 1000
    this.timer = setInterval(() => this.render(false), every)
    this.timer.unref()
  }

  stop (): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    if (this.mode === 'tty') { this.render(true); this.out.write('\n') }
  }

  line (): string {
    const s = this.snapshot()
    const secs = (Date.now() - this.started) / 1000
    const fraction = this.totalBytes ? Math.min(1, s.bytesRead / this.totalBytes) : 1
    const rate = secs > 0 ? s.rowsAcked / secs : 0
    const eta = fraction > 0.01 && fraction < 1 ? formatSeconds(secs / fraction - secs) : '-'
    return `${(fraction * 100).toFixed(0).padStart(3)}% ${(s.bytesRead / MiB).toFixed(1)}/${(this.totalBytes / MiB).toFixed(1)} MiB  ` +
      `${s.rowsAcked.toLocaleString('en-US')} rows acked  ${Math.round(rate).toLocaleString('en-US')} rows/s  ` +
      `in flight ${s.inflight}${s.retries ? `  retries ${s.retries}` : ''}  ETA ${eta}`
  }

  private render (final: boolean): void {
    if (this.mode === 'tty') {
      const s = this.snapshot()
      const fraction = this.totalBytes ? Math.min(1, s.bytesRead / this.totalBytes) : 1
      const width = 24
      const filled = Math.round(fraction * width)
      this.out.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.line()}`)
    } else if (!final && Date.now() - this.lastLine >= 5000) {
      this.lastLine = Date.now()
      this.out.write(`quiver: ${this.line()}\n`)
    }
  }
}

export function formatSeconds (s: number): string {
  if (!Number.isFinite(s)) return '-'
  if (s < 60) return `${s.toFixed(0)}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

export interface Summary {
  topic: string
  transport: string
  rows: number
  batches: number
  skippedBatches: number
  bytes: number
  wireBytes: number
  retries: number
  seconds: number
  rowsPerSecond: number
  mibPerSecond: number
}

export function formatSummary (s: Summary): string {
  const skipped = s.skippedBatches ? ` (${s.skippedBatches} already acknowledged batches skipped)` : ''
  return `sent ${s.rows.toLocaleString('en-US')} rows in ${s.batches} batches to "${s.topic}" over ${s.transport}${skipped}: ` +
    `${(s.bytes / MiB).toFixed(1)} MiB read, ${(s.wireBytes / MiB).toFixed(1)} MiB sent, ${s.seconds.toFixed(2)} s, ` +
    `${Math.round(s.rowsPerSecond).toLocaleString('en-US')} rows/s, ${s.mibPerSecond.toFixed(1)} MiB/s` +
    (s.retries ? `, ${s.retries} retries` : '')
}
