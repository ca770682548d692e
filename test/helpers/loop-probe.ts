import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { setTimeout as pause } from 'node:timers/promises'
import type { Gateway } from './gateway.ts'
import { localToken } from './local-auth.ts'

/**
 * CPU time in ms this thread has used (Linux: utime + stime of /proc/thread-self/stat, in 10 ms
 * ticks); undefined where that file does not exist.
 */
function threadCpuMs (): number | undefined {
  let stat: string
  try { stat = readFileSync('/proc/thread-self/stat', 'latin1') } catch { return undefined }
  // fields after the command name, which is in parentheses and may hold spaces: state is field 3
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10 // fields 14 and 15, USER_HZ = 100
}

export interface LoopStall {
  /** the longest gap between two ticks, in wall time */
  wallMs: number
  /**
   * the longest time the loop was held by work on this thread: per gap, the lesser of its wall
   * time and the CPU this thread used within it. A gap the scheduler caused (the machine busy
   * with other processes) does not count; one the code caused does, whatever the load.
   */
  heldMs: number
}

/**
 * The longest gap between two ticks of a 5 ms timer until stop() (a stall just before it counts
 * too). Not monitorEventLoopDelay: its first sample only sets its start, so a stall right after
 * enable() went unseen.
 */
export function loopProbe (): { stop: () => LoopStall } {
  let last = performance.now()
  let lastCpu = threadCpuMs()
  let wallMs = 0
  let heldMs = 0
  const tick = (): void => {
    const now = performance.now()
    const cpu = threadCpuMs()
    const wall = now - last
    // ticks are 10 ms: a gap's CPU may read up to 10 ms over its wall time, hence the lesser of both
    const held = cpu === undefined || lastCpu === undefined ? wall : Math.min(wall, cpu - lastCpu)
    wallMs = Math.max(wallMs, wall)
    heldMs = Math.max(heldMs, held)
    last = now
    lastCpu = cpu
  }
  const timer = setInterval(tick, 5)
  return { stop: () => { clearInterval(timer); tick(); return { wallMs, heldMs } } }
}

/** CPU ms the thread `tid` of process `pid` has used (10 ms ticks); undefined where /proc has no such file. */
function processThreadCpuMs (pid: number, tid = pid): number | undefined {
  let stat: string
  try { stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1') } catch { return undefined }
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * 10
}

/**
 * Polls /healthz one request at a time, 5 ms apart, until stop(): the longest gap between two
 * answers (wall) and the longest the gateway's main thread held the loop (per gap, the lesser of
 * its wall time and the CPU that thread used in it: what the code, not the machine's load, caused).
 */
export function healthProbe (url: string, pid: number): { stop: () => Promise<{ wallMs: number, heldMs: number, answers: number }> } {
  const state = { running: true }
  let wallMs = 0
  let heldMs = 0
  let answers = 0
  const get = (): Promise<number> => new Promise((resolve, reject) => {
    request(`${url}/healthz`, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode!)) }).on('error', reject).end()
  })
  const loop = (async () => {
    let last = performance.now()
    let lastCpu = processThreadCpuMs(pid)
    while (state.running) {
      const status = await get()
      if (status !== 200) throw new Error(`/healthz answered ${status}`)
      const now = performance.now()
      const cpu = processThreadCpuMs(pid)
      const wall = now - last
      // ticks are 10 ms: the CPU of a gap may read up to 10 ms over its wall time
      const held = cpu === undefined || lastCpu === undefined ? wall : Math.min(wall, cpu - lastCpu)
      wallMs = Math.max(wallMs, wall)
      heldMs = Math.max(heldMs, held)
      answers++
      last = now
      lastCpu = cpu
      await pause(5)
    }
  })()
  return { stop: async () => { state.running = false; await loop; return { wallMs, heldMs, answers } } }
}

/**
 * POSTs an Arrow IPC stream to `topic` with a writer's token while healthProbe watches the
 * gateway: the answer (status, body text, ms to it) and the longest stall seen meanwhile.
 */
export async function postProbed (gw: Gateway, topic: string, body: Uint8Array): Promise<{ status: number, text: string, ms: number, stall: { wallMs: number, heldMs: number, answers: number } }> {
  const probe = healthProbe(gw.url, gw.proc.pid!)
  const started = performance.now()
  const res = await fetch(`${gw.url}/v1/topics/${topic}/records`, {
    method: 'POST',
    headers: { authorization: `Bearer ${localToken(gw.dataDir, ['write'])}`, 'content-type': 'application/vnd.apache.arrow.stream' },
    body: Buffer.from(body)
  })
  const text = await res.text()
  const ms = performance.now() - started
  return { status: res.status, text, ms, stall: await probe.stop() }
}
