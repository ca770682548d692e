import { createWriteStream } from 'node:fs'
import { once } from 'node:events'

/**
 * Writes `rows` generated rows to a file without holding them in memory.
 * Row i: id=i, name=`name-i` (every 7th quoted with a comma and a doubled quote), value=i/4,
 * ts=2024-01-01T00:00:00Z + i seconds, ok=i%2===0.
 */
export async function writeRows (path: string, rows: number, format: 'csv' | 'ndjson' | 'json'): Promise<void> {
  const out = createWriteStream(path, { highWaterMark: 1 << 20 })
  const t0 = Date.UTC(2024, 0, 1)
  let buf = format === 'csv' ? 'id,name,value,ts,ok\n' : format === 'json' ? '[\n' : ''
  for (let i = 0; i < rows; i++) {
    const ts = new Date(t0 + i * 1000).toISOString()
    if (format === 'csv') {
      const name = i % 7 === 0 ? `"name ${i}, ""q"""` : `name-${i}`
      buf += `${i},${name},${i / 4},${ts},${i % 2 === 0}\n`
    } else {
      const row = JSON.stringify({ id: i, name: i % 7 === 0 ? `name ${i}, "q"` : `name-${i}`, value: i / 4, ts, ok: i % 2 === 0 })
      buf += format === 'json' ? (i ? ',\n' : '') + row : row + '\n'
    }
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain')
      buf = ''
    }
  }
  if (format === 'json') buf += '\n]\n'
  out.end(buf)
  await once(out, 'finish')
}

/** Reads the peak resident set size (VmHWM) of a process, in bytes, or null once it has exited. */
export async function peakRss (pid: number): Promise<number | null> {
  const { readFile } = await import('node:fs/promises')
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const m = /VmHWM:\s+(\d+) kB/.exec(status)
    return m ? Number(m[1]) * 1024 : null
  } catch {
    return null
  }
}
