/**
 * Load-generator process for the auth bench: runs `rawLoad` for each message from its parent and
 * answers with the result plus its own CPU seconds. A separate process so that it can be pinned
 * to a core of its own (taskset), away from the server it loads.
 */
import { rawLoad } from './raw-load.ts'

process.on('message', (msg: Parameters<typeof rawLoad>[0] | { cmd: 'exit' }) => {
  if ('cmd' in msg) process.exit(0)
  const c0 = process.cpuUsage()
  rawLoad(msg).then((r) => {
    const c = process.cpuUsage(c0)
    process.send!({ ...r, cpuS: (c.user + c.system) / 1e6 })
  }, (err: Error) => process.send!({ error: err.message }))
})
