import { readFileSync } from 'node:fs'

/**
 * `npm start` leaves at once on a SIGTERM sent only to its pid, and forwards nothing: the server
 * (under `sh -c`, in src/start.js's process) is orphaned and would run until killed, never
 * flushing. So under npm the server records each link of its ancestry up to npm (this process →
 * parent → … → npm) and treats any link changing (a process gone, or re-parented) as "the
 * launcher left": shut down gracefully. Outside npm nothing is watched: `node dist/src/server.js`
 * under nohup, a shell or a supervisor keeps running when its parent leaves, as servers do.
 */

interface Link { pid: number, ppid: number }

const MAX_DEPTH = 4

/** Linux /proc: a process's parent pid, or undefined once it is gone (or there is no /proc). */
function parentOf (pid: number): number | undefined {
  if (pid === process.pid) return process.ppid
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the parenthesised command name (which may hold spaces): state, ppid, …
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return undefined
  }
}

function isNpm (pid: number): boolean {
  try {
    // npm sets its title to "npm start" (argv rewritten); otherwise its argv names npm-cli.js.
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    return /^npm( |$)/.test(argv[0]) || argv.some((a) => /[\\/]npm(-cli\.js)?$/.test(a))
  } catch {
    return false
  }
}

/** The links to watch: up to npm when it is found, else only this process's own parent. */
export function launcherLinks (env: NodeJS.ProcessEnv = process.env): Link[] {
  if (env.npm_lifecycle_event === undefined) return []
  const links: Link[] = []
  let pid = process.pid
  for (let i = 0; i < MAX_DEPTH; i++) {
    const ppid = parentOf(pid)
    if (ppid === undefined || ppid <= 1) break
    links.push({ pid, ppid })
    if (isNpm(ppid)) return links
    pid = ppid
  }
  // No npm in sight (no /proc, or an unusual launcher): the direct parent still counts.
  return [{ pid: process.pid, ppid: process.ppid }]
}

/** Calls `onLeft` once when a watched link changes; checks every `everyMs`. Returns a stop function. */
export function watchLauncher (onLeft: (link: Link) => void, o: { everyMs?: number, links?: Link[] } = {}): () => void {
  const links = o.links ?? launcherLinks()
  if (links.length === 0) return () => {}
  const timer = setInterval(() => {
    const broken = links.find((l) => parentOf(l.pid) !== l.ppid)
    if (broken === undefined) return
    clearInterval(timer)
    onLeft(broken)
  }, o.everyMs ?? 250)
  timer.unref()
  return () => clearInterval(timer)
}
