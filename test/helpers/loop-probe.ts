import { readFileSync } from 'node:fs'

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
