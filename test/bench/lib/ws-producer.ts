import WebSocket from 'ws'

export interface ProducerStats {
  sent: number
  acked: number
  ackedRows: number
  errors: number
  latenciesMs: number[]
}

/**
 * One WebSocket ingest connection (`quiver.v1` + `bearer.<jwt>`). Acks arrive in order, so the
 * send time of message n is at index n-1 of a FIFO.
 */
export class Producer {
  ws!: WebSocket
  readonly stats: ProducerStats = { sent: 0, acked: 0, ackedRows: 0, errors: 0, latenciesMs: [] }
  readonly sentAt: number[] = []
  recordLatency = false
  lastError = ''
  closedCode = 0
  onAck: ((p: Producer) => void) | null = null

  constructor (readonly url: string, readonly token: string, readonly localAddress?: string) {}

  open (timeoutMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, ['quiver.v1', `bearer.${this.token}`], {
        perMessageDeflate: false,
        handshakeTimeout: timeoutMs,
        localAddress: this.localAddress
      })
      this.ws = ws
      ws.binaryType = 'nodebuffer'
      ws.once('open', () => resolve())
      ws.once('unexpected-response', (_req, res) => {
        reject(new Error(`upgrade refused: ${res.statusCode}`))
        ws.terminate()
      })
      ws.once('error', (err) => reject(err))
      ws.on('close', (code) => { this.closedCode = code })
      ws.on('message', (data, isBinary) => {
        if (isBinary) return
        const frame = JSON.parse(data.toString()) as { type: string, seq: number, rows?: number, code?: string, message?: string }
        const t = this.sentAt.shift()
        if (frame.type === 'ack') {
          this.stats.acked++
          this.stats.ackedRows += frame.rows ?? 0
          if (this.recordLatency && t !== undefined) this.stats.latenciesMs.push(performance.now() - t)
        } else {
          this.stats.errors++
          this.lastError = `${frame.code}: ${frame.message}`
        }
        this.onAck?.(this)
      })
    })
  }

  get inflight (): number {
    return this.sentAt.length
  }

  send (msg: Uint8Array): void {
    this.sentAt.push(performance.now())
    this.stats.sent++
    this.ws.send(msg, { binary: true })
  }

  close (): void {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.terminate()
  }
}

/** Opens `n` producers with at most `concurrency` handshakes in flight; returns those that opened and the failures. */
export async function openMany (make: (i: number) => Producer, n: number, concurrency: number, deadlineMs: number): Promise<{ open: Producer[], failed: number, firstError: string }> {
  const open: Producer[] = []
  let failed = 0
  let firstError = ''
  let next = 0
  const end = performance.now() + deadlineMs
  const worker = async (): Promise<void> => {
    while (next < n && performance.now() < end) {
      const p = make(next++)
      try {
        await p.open()
        open.push(p)
      } catch (err) {
        failed++
        if (!firstError) firstError = (err as Error).message
        p.close()
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { open, failed, firstError }
}
