import { EventEmitter, once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import WebSocket from 'ws'
import { readParquet } from 'parquet-wasm'
import { tableFromIPC, type Table } from 'apache-arrow'

export interface Frame { type: 'ack' | 'error', seq: number, rows?: number, code?: string, message?: string }

/** What an upgrade refused with a plain HTTP answer looked like. */
export interface Refusal { status: number, headers: Record<string, string | string[] | undefined>, body: unknown }

/** Opens a WebSocket; rejects with a Refusal when the server answers the upgrade with HTTP. */
export function connect (url: string, protocols: string[] = ['quiver.v1'], headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers })
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => {
        ws.terminate()
        reject(Object.assign(new Error('refused'), { status: res.statusCode, headers: res.headers, body: JSON.parse(text) }))
      })
    })
  })
}

/** Collects the text frames of an ingest connection; `next(n)` waits until n frames arrived. */
export function frames (ws: WebSocket) {
  const got: Frame[] = []
  const arrivals = new EventEmitter()
  ws.on('message', (data, isBinary) => {
    if (!isBinary) got.push(JSON.parse(data.toString()))
    arrivals.emit('frame')
  })
  return {
    got,
    async next (n: number, timeoutMs = 20_000): Promise<Frame[]> {
      const signal = AbortSignal.timeout(timeoutMs)
      while (got.length < n) {
        await once(arrivals, 'frame', { signal }).catch(() => { throw new Error(`timed out with ${got.length}/${n} frames: ${JSON.stringify(got)}`) })
      }
      return got.slice(0, n)
    }
  }
}

export function closed (ws: WebSocket): Promise<{ code: number, reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
}

export function parquetTable (bytes: Uint8Array): Table {
  return tableFromIPC(readParquet(bytes).intoIPCStream())
}

/** Every committed Parquet object of a topic in a local DATA_DIR, read back as one list of rows. */
export function localRows (dataDir: string, topic: string): Array<Record<string, unknown>> {
  const dir = join(dataDir, topic)
  let files: string[]
  try {
    files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.parquet'))
  } catch {
    return []
  }
  return files.flatMap((f) => parquetTable(readFileSync(join(dir, f))).toArray().map((r) => r.toJSON()))
}

/** One sample of a Prometheus text exposition, e.g. metric(text, 'quiver_websocket_connections{kind="stream"}'). */
export function metric (text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}
