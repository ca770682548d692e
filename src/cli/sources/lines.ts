import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'

/** Lines of a file of any size (LF or CRLF), reporting the bytes consumed so far. */
export async function * readLines (path: string, position?: { bytes: number }): AsyncGenerator<string> {
  const stream = createReadStream(path, { highWaterMark: 1 << 20 })
  const lines = createInterface({ input: stream, crlfDelay: Infinity })
  try {
    for await (const line of lines) {
      if (position) position.bytes = stream.bytesRead
      yield line
    }
  } finally {
    lines.close()
    stream.destroy()
  }
}
