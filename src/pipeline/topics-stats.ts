import type { Catalog } from '../catalog.ts'
import type { QuiverPipeline } from './pipeline.ts'
import type { TopicBufferStats } from './types.ts'

export interface TopicStatsEntry extends TopicBufferStats {
  /** Storage could not be listed just now: the committed counters are what this instance last knew. */
  stale?: true
}

/** Topics listed at once at most: a catalog of thousands would otherwise open as many LISTs together. */
const LISTINGS_AT_ONCE = 8

/**
 * The per-topic part of GET /v1/admin/stats: every topic of the catalog, then any this instance still
 * holds rows for although the catalog no longer has it (deleted since). Committed counters come from
 * a fresh listing of the topic as the catalog has it now, so they are what every instance and every
 * earlier run stored (the figures GET /v1/topics/{topic} gives; a restart loses none of them);
 * buffered counters are this instance's. Storage that cannot be listed does not fail the answer (it
 * is read most when storage is down): those topics show what this instance knew, flagged `stale`.
 */
export async function topicsStats (
  pipeline: Pick<QuiverPipeline, 'stats' | 'topicStats' | 'knownStats'>,
  catalog: Pick<Catalog, 'list'>,
  log: { warn: (obj: object, msg: string) => void }
): Promise<Record<string, TopicStatsEntry>> {
  const local = pipeline.stats().topics
  let listed: Array<{ name: string, createdAt: string }>
  try {
    listed = await catalog.list()
  } catch (err) {
    log.warn({ err }, 'admin stats: the catalog could not be read; topics as this instance knows them')
    return Object.fromEntries(Object.entries(local).map(([name, s]) => [name, { ...s, stale: true as const }]))
  }
  const found = new Map<string, TopicStatsEntry>()
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < listed.length) {
      const { name, createdAt } = listed[next++]
      try {
        found.set(name, await pipeline.topicStats(name, createdAt))
      } catch (err) {
        log.warn({ err, topic: name }, 'admin stats: committed objects could not be listed; counters as this instance knows them')
        found.set(name, { ...pipeline.knownStats(name, createdAt), stale: true })
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(LISTINGS_AT_ONCE, listed.length) }, worker))
  const out: Record<string, TopicStatsEntry> = {}
  for (const { name } of listed) out[name] = found.get(name)!
  for (const [name, s] of Object.entries(local)) out[name] ??= s
  return out
}
